// /healthz (the sidecar is initialized and, given --app-port, its app channel is up: as daprd, it waits for the app's
// port to open) and /healthz/outbound (ready before the app: its components can reach their backends).
import type { ComponentRegistry } from "../../components/registry.js";

export interface OutboundReport {
  healthy: boolean;
  failures: { component: string; error: string }[];
}

const PING_TIMEOUT_MS = 2000;

export class HealthBlock {
  private ready = false;

  /** `appChannelUp`: the app's port has accepted a connection (always true without --app-port). */
  constructor(private readonly registry: ComponentRegistry, private readonly appChannelUp: () => boolean = () => true) {}

  /** Components loaded and the API servers listening. */
  markReady(): void {
    this.ready = true;
  }

  isReady(): boolean {
    return this.ready && this.appChannelUp();
  }

  async outbound(): Promise<OutboundReport> {
    const checks = this.registry.list().filter((c) => c.instance.ping);
    const failures: OutboundReport["failures"] = [];
    await Promise.all(checks.map(async (c) => {
      try {
        await pingWithTimeout(() => c.instance.ping!(), PING_TIMEOUT_MS);
      } catch (err) {
        failures.push({ component: c.spec.name, error: err instanceof Error ? err.message : String(err) });
      }
    }));
    return { healthy: failures.length === 0, failures };
  }
}

function pingWithTimeout(fn: () => Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    fn().finally(() => clearTimeout(timer)),
    new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
    }),
  ]);
}
