// Spawns DPDK test peers as separate Bun processes and reads their JSON-line events.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const PEER = join(import.meta.dir, "fixtures", "peer.ts");
const CHECK = join(import.meta.dir, "fixtures", "eal-check.ts");
const BASE_EAL = ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--no-telemetry"];

export interface PeerEvent {
  event: string;
  [field: string]: unknown;
}

export class Peer {
  readonly events: PeerEvent[] = [];
  private stderr = "";
  private waiters: (() => void)[] = [];

  constructor(readonly proc: Subprocess<"ignore", "pipe", "pipe">) {
    void this.read(proc.stdout, (line) => {
      try {
        this.events.push(JSON.parse(line) as PeerEvent);
      } catch {
        this.stderr += `${line}\n`;
      }
    });
    void this.read(proc.stderr, (line) => (this.stderr += `${line}\n`));
  }

  /** Resolves with the first event matching `name`, or throws with the peer's output after `timeoutMs`. */
  async waitFor(name: string, timeoutMs: number, from = 0): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find((e) => e.event === name || e.event === "fatal");
      if (hit?.event === "fatal") throw new Error(`peer failed: ${String(hit.message)}`);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no "${name}" event within ${timeoutMs} ms; events: ${JSON.stringify(this.events).slice(-800)}; stderr: ${this.stderr.slice(-800)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async read(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
      for (const wake of this.waiters.splice(0)) wake();
    }
  }
}

/** Spawns peers with fresh EAL file prefixes and removes what they leave behind. */
export class DpdkLab {
  private readonly prefixes: string[] = [];
  private readonly peers: Peer[] = [];
  private readonly cleanups: (() => void)[] = [];
  private count = 0;

  constructor(readonly name: string) {}

  ealArgs(vdev: string): string[] {
    const prefix = `rapr-${this.name}-${process.pid}-${this.count++}`;
    this.prefixes.push(prefix);
    return [...BASE_EAL, `--file-prefix=${prefix}`, `--vdev=${vdev}`];
  }

  spawn(config: Record<string, unknown>, netns?: string): Peer {
    const command = [process.execPath, PEER, JSON.stringify(config)];
    const proc = Bun.spawn(netns ? ["ip", "netns", "exec", netns, ...command] : command, {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const peer = new Peer(proc);
    this.peers.push(peer);
    return peer;
  }

  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const p of this.peers) {
      if (p.alive()) p.proc.kill("SIGKILL");
      await p.proc.exited;
    }
    for (const fn of this.cleanups.splice(0)) fn();
    for (const prefix of this.prefixes) rmSync(join("/var/run/dpdk", prefix), { recursive: true, force: true });
  }
}

/** One memif link between processes: a socket path shared by a server and its clients. */
export class MemifLink extends DpdkLab {
  readonly socket: string;

  constructor(name: string) {
    super(name);
    this.socket = join(tmpdir(), `rapr-${name}-${process.pid}.sock`);
    this.onCleanup(() => rmSync(this.socket, { force: true }));
  }

  memifArgs(role: "server" | "client", bsize?: number): string[] {
    return this.ealArgs(`net_memif0,role=${role},socket=${this.socket}${bsize ? `,bsize=${bsize}` : ""}`);
  }
}

/** Two network namespaces joined by a veth pair; each side is driven by net_af_packet. */
export class VethLab extends DpdkLab {
  readonly nsA: string;
  readonly nsB: string;
  readonly ifA: string;
  readonly ifB: string;

  constructor(name: string) {
    super(name);
    const tag = `${process.pid % 100000}`;
    this.nsA = `rapr-${name}-${tag}-a`;
    this.nsB = `rapr-${name}-${tag}-b`;
    this.ifA = `rva${tag}`;
    this.ifB = `rvb${tag}`;
  }

  /** Creates the namespaces and the veth pair; returns why it could not, if it could not. */
  setUp(): string | undefined {
    const steps = [
      ["ip", "netns", "add", this.nsA],
      ["ip", "netns", "add", this.nsB],
      ["ip", "link", "add", this.ifA, "netns", this.nsA, "type", "veth", "peer", "name", this.ifB, "netns", this.nsB],
      ["ip", "-n", this.nsA, "link", "set", this.ifA, "up"],
      ["ip", "-n", this.nsB, "link", "set", this.ifB, "up"],
    ];
    this.onCleanup(() => {
      Bun.spawnSync(["ip", "netns", "del", this.nsA]);
      Bun.spawnSync(["ip", "netns", "del", this.nsB]);
    });
    for (const step of steps) {
      try {
        const r = Bun.spawnSync(step, { stderr: "pipe" });
        if (r.exitCode !== 0) return `\`${step.join(" ")}\` failed: ${r.stderr.toString().trim()}`;
      } catch (err) {
        return `\`${step.join(" ")}\` failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return undefined;
  }

  afPacketArgs(side: "a" | "b"): string[] {
    return this.ealArgs(`net_af_packet0,iface=${side === "a" ? this.ifA : this.ifB}`);
  }
}

/** Whether EAL can start here (in a throwaway process, since EAL starts once per process). */
export async function ealAvailability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const prefix = `rapr-check-${process.pid}`;
  const proc = Bun.spawn([process.execPath, CHECK, JSON.stringify([...BASE_EAL, `--file-prefix=${prefix}`, "--vdev=net_null0"])], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  clearTimeout(timer);
  rmSync(join("/var/run/dpdk", prefix), { recursive: true, force: true });
  try {
    return JSON.parse(out.trim().split("\n").pop() ?? "") as { ok: true } | { ok: false; reason: string };
  } catch {
    return { ok: false, reason: `EAL check process exited with ${proc.exitCode ?? proc.signalCode} and no verdict` };
  }
}
