// A nats-server of the test's own (JetStream on, loopback, a free port), which the test may kill and restart to
// simulate a broker outage without touching the shared server on 4222.
import { connect } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";

export class PrivateNats {
  private proc?: ReturnType<typeof Bun.spawn>;

  private constructor(readonly port: number, private readonly store: string) {}

  static async start(): Promise<PrivateNats> {
    const nats = new PrivateNats(await freePort(), mkdtempSync(join(tmpdir(), "rapr-nats-")));
    await nats.restart();
    return nats;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, on the same port and store) and waits until it accepts clients. */
  async restart(): Promise<void> {
    this.proc = Bun.spawn(["nats-server", "-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.store], { stdout: "ignore", stderr: "ignore" });
    await waitFor(() => this.accepts(), `nats-server on ${this.url}`);
  }

  /** Kills it the hard way, as a crash would. */
  async kill(): Promise<void> {
    this.proc?.kill("SIGKILL");
    await this.proc?.exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.store, { recursive: true, force: true });
  }

  private async accepts(): Promise<boolean> {
    try {
      const nc = await connect({ servers: this.url, reconnect: false });
      await nc.close();
      return true;
    } catch {
      return false;
    }
  }
}
