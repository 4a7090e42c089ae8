// The configuration building block: get and subscribe over the configuration stores with daprd's errors, the
// component's resiliency policies, and the live subscriptions by id (for unsubscribe and for ending them on stop).
import { Slot } from "../../runtime/block.js";
import type { ComponentRegistry } from "../../components/registry.js";
import type { Resiliency } from "../../resiliency/index.js";
import type {
  ConfigurationItems, ConfigurationRequest, ConfigurationStore, ConfigurationUpdateHandler,
} from "../../components/contracts/configuration.js";
import { errors, messageOf } from "../../errors.js";
import type { AppChannel } from "../../app/channel.js";
import type { Logger } from "../../observability/logger.js";
import { appUpdateHandler } from "./app-delivery.js";

interface Live {
  storeName: string;
  /** Called once the store no longer delivers to this subscription (unsubscribed, or the sidecar stops). */
  onEnd?: () => void;
}

export class ConfigurationBlock {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly registry: ComponentRegistry,
    private readonly resiliency: Resiliency,
    /** The HTTP API's subscribers: undefined without an app (no --app-port). */
    private readonly app: AppChannel | undefined,
    private readonly logger: Logger,
  ) {}

  private store(name: string): ConfigurationStore {
    if (this.registry.list("configuration").length === 0) throw errors.configurationStoreNotConfigured("configuration stores not configured");
    const store = this.registry.get<ConfigurationStore>("configuration", name);
    if (!store) throw errors.configurationStoreNotFound(`configuration store ${name} not found`);
    return store;
  }

  async get(storeName: string, req: ConfigurationRequest): Promise<ConfigurationItems> {
    const store = this.store(storeName);
    try {
      return await this.outbound(storeName, () => store.get(req));
    } catch (err) {
      throw errors.configurationGet(`failed to get ${goList(req.keys)} from Configuration store ${storeName}: ${messageOf(err)}`);
    }
  }

  /** Resolves with the subscription's id once the store listens; `onEnd` runs when the subscription ends. */
  async subscribe(storeName: string, req: ConfigurationRequest, handler: ConfigurationUpdateHandler, onEnd?: () => void): Promise<string> {
    const store = this.store(storeName);
    let id: string;
    try {
      id = await this.outbound(storeName, () => store.subscribe(req, handler));
    } catch (err) {
      throw errors.configurationSubscribe(`failed to subscribe ${goList(req.keys)} from Configuration store ${storeName}: ${messageOf(err)}`);
    }
    this.live.set(id, { storeName, onEnd });
    return id;
  }

  /** daprd's HTTP subscription: the app gets each update at POST /configuration/{store}/{key}. */
  async subscribeApp(storeName: string, req: ConfigurationRequest): Promise<string> {
    this.store(storeName);
    if (!this.app) throw errors.appChannelNil("app channel is not initialized. cannot subscribe to configuration updates");
    return this.subscribe(storeName, req, appUpdateHandler(this.app, this.resiliency, this.logger, storeName));
  }

  /** Ends a subscription; throws an Error with daprd's message when it fails (the fronts answer it, not as an error). */
  async unsubscribe(storeName: string, id: string): Promise<void> {
    const store = this.store(storeName);
    const sub = this.live.get(id);
    const fail = (why: string) => new Error(`failed to unsubscribe to configuration request ${id}: ${why}`);
    if (!sub || sub.storeName !== storeName) throw fail("subscription does not exist");
    try {
      await this.outbound(storeName, () => store.unsubscribe(id));
    } catch (err) {
      throw fail(messageOf(err));
    }
    this.end(id);
  }

  /** The stores end their subscriptions as they close; this ends the streams and callbacks waiting on them. */
  stop(): void {
    for (const id of [...this.live.keys()]) this.end(id);
  }

  private end(id: string): void {
    const sub = this.live.get(id);
    this.live.delete(id);
    sub?.onEnd?.();
  }

  private outbound<T>(storeName: string, fn: () => Promise<T>): Promise<T> {
    const target = { component: storeName };
    return this.resiliency.policyFor(target) ? this.resiliency.run(target, fn) : fn();
  }
}

/** Go's printing of a []string, as daprd's messages hold it: [a b]. */
function goList(keys: readonly string[]): string {
  return `[${keys.join(" ")}]`;
}

/** The running configuration block, for the API fronts. */
export const configurationSlot = new Slot<ConfigurationBlock>("configuration");
