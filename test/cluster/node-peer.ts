// Spawns a Node.js helper script from fixtures/ and exchanges JSON lines with it.
import type { Subprocess } from "bun";

export const nodeBinary = Bun.which("node");

export type PeerEvent = { event: string; [k: string]: unknown };

export class NodePeer {
  private readonly events: PeerEvent[] = [];
  private waiters: Array<() => void> = [];
  private stderr = "";

  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {}

  static start(fixture: string, args: string[] = []): NodePeer {
    if (!nodeBinary) throw new Error("node is not installed");
    const proc = Bun.spawn([nodeBinary, new URL(`./fixtures/${fixture}`, import.meta.url).pathname, ...args], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      cwd: new URL("../..", import.meta.url).pathname,
    });
    const peer = new NodePeer(proc);
    peer.pump();
    return peer;
  }

  private async pump(): Promise<void> {
    void (async () => {
      for await (const chunk of this.proc.stderr) this.stderr += new TextDecoder().decode(chunk);
    })();
    let pending = "";
    for await (const chunk of this.proc.stdout) {
      pending += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim()) this.events.push(JSON.parse(line));
      }
      for (const w of this.waiters.splice(0)) w();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    this.proc.stdin.flush();
  }

  /** Waits for (and consumes) the first event matching `event`, failing after `timeoutMs`. */
  async next(event: string, timeoutMs = 30_000): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.event === event || e.event === "error");
      if (i !== -1) {
        const [found] = this.events.splice(i, 1);
        if (found!.event === "error" && event !== "error") throw new Error(`peer error: ${found!.message}`);
        return found!;
      }
      if (this.proc.exitCode !== null) throw new Error(`peer exited (${this.proc.exitCode}): ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${event}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    try {
      this.send({ cmd: "exit" });
    } catch {}
    const exited = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) this.proc.kill();
  }
}
