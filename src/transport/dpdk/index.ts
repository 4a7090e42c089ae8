// DPDK fast path for sidecar-to-sidecar traffic. Importing this module never loads DPDK; probeDpdk() and
// createDpdkTransport() do, and both report a missing shim or libdpdk as a one-line reason.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Transport } from "../transport";
import { DatagramTransport, parseIPv4 } from "./datagram-transport";
import type { EndpointOptions, EndpointStats } from "./endpoint";
import { DpdkPacketIO } from "./packet-io";
import { DEFAULT_MTU, loadShim, Stat } from "./shim";

export { DpdkError } from "./shim";

export const DEFAULT_DPDK_UDP_PORT = 47100;

export interface DpdkTransportOptions {
  /** EAL arguments, e.g. ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--vdev=net_memif0,role=server"]. */
  ealArgs: string[];
  /** DPDK port id (0 for the first --vdev or PCI device). */
  port: number;
  /** This node's IPv4 address on the DPDK port. */
  localIp: string;
  /** UDP port rapr listens on at localIp; default 47100. */
  udpPort?: number;
  /** Static neighbour table; unknown neighbours get broadcast frames until one of their packets is seen. */
  neighbours?: { ip: string; mac: string }[];
  /** Largest IPv4 datagram on the link: 1500 (default), or e.g. 9000 where the PMD and link allow jumbo
   * frames (net_memif does). Fewer, larger packets make big messages much cheaper. */
  mtu?: number;
  rxDescriptors?: number;
  txDescriptors?: number;
  mbufs?: number;
  /** Busy-poll this long after the last packet before sleeping 1 ms between polls (default 20). */
  spinMs?: number;
  /** For this long (µs) after the last packet, an empty poll yields the CPU (sched_yield). Default 1000. */
  idleYieldUs?: number;
  /** Then empty polls nap up to this long (µs). idleYieldUs 0 + maxNapUs 0 = pure busy-polling. Default 50. */
  maxNapUs?: number;
  endpoint?: Partial<EndpointOptions>;
}

export class DpdkUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "DpdkUnavailableError";
  }
}

/** Splits a `--dpdk-args "<EAL args>"` value into argv words the way a shell would for plain words and
 * single or double quotes (no escapes, no expansion). */
export function splitEalArgs(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= "";
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in DPDK arguments: ${text}`);
  if (word !== undefined) words.push(word);
  return words;
}

export type DpdkProbe = { ok: true } | { ok: false; reason: string };

/** Can this process load the shim and libdpdk? (Does not start EAL: that is one-shot per process.) */
export function probeDpdk(): DpdkProbe {
  const loaded = loadShim();
  return loaded.ok ? { ok: true } : { ok: false, reason: loaded.reason };
}

export interface DpdkStats {
  txCalls: number;
  txPackets: number;
  rxCalls: number;
  rxNonEmptyCalls: number;
  rxPackets: number;
  txRingFull: number;
  rxBadChecksum: number;
  /** Frames dropped because the link was down (net_memif without a peer). */
  txLinkDown: number;
  /** net_memif client: restarts that reached a new server, and attempts that found none. */
  reconnects: number;
  reconnectsFailed: number;
  endpoint: EndpointStats;
}

export interface DpdkTransport extends Transport {
  readonly name: "dpdk";
  stats(): DpdkStats;
  linkUp(): boolean;
}

function parseMac(text: string): Uint8Array {
  const bytes = text.split(/[:-]/).map((h) => Number.parseInt(h, 16));
  if (bytes.length !== 6 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) {
    throw new Error(`"${text}" is not a MAC address`);
  }
  return Uint8Array.from(bytes);
}

/** Adds what a sidecar wants unless the caller chose otherwise: no telemetry socket, and a per-process
 * --file-prefix so several rapr processes on one host do not fight over DPDK's default runtime directory. */
function withDefaults(args: string[]): { args: string[]; generatedPrefix?: string } {
  const out = [...args];
  if (!args.some((a) => a === "--telemetry" || a === "--no-telemetry")) out.push("--no-telemetry");
  if (args.some((a) => a.startsWith("--file-prefix") || a === "--in-memory")) return { args: out };
  const generatedPrefix = `rapr-${process.pid}`;
  out.push(`--file-prefix=${generatedPrefix}`);
  return { args: out, generatedPrefix };
}

/** net_memif moves frames larger than its ring buffers (bsize, default 2048) as descriptor chains, and in
 * DPDK 22.11 that path duplicated packets in our tests; jumbo frames over memif need bsize >= the frame. */
function checkMemifFrameSize(args: string[], mtu: number): void {
  if (mtu <= 1500) return;
  for (const arg of args) {
    const vdev = arg.startsWith("--vdev=") ? arg.slice(7) : undefined;
    if (!vdev?.startsWith("net_memif")) continue;
    const bsize = Number(/(?:^|,)bsize=(\d+)/.exec(vdev)?.[1] ?? 2048);
    if (bsize < mtu + 14) {
      throw new Error(`MTU ${mtu} over ${vdev.split(",")[0]} needs bsize=${mtu + 14} or more in its --vdev arguments (has ${bsize})`);
    }
  }
}

/** Starts EAL (once per process), opens the port and returns a transport on it.
 * Throws DpdkUnavailableError when the shim or libdpdk is missing: log `err.reason`, use the kernel path. */
export async function createDpdkTransport(opts: DpdkTransportOptions): Promise<DpdkTransport> {
  const loaded = loadShim();
  if (!loaded.ok) throw new DpdkUnavailableError(loaded.reason);
  const shim = loaded.shim;
  const udpPort = opts.udpPort ?? DEFAULT_DPDK_UDP_PORT;
  const ip = parseIPv4(opts.localIp);
  const mtu = opts.mtu ?? DEFAULT_MTU;
  checkMemifFrameSize(opts.ealArgs, mtu);
  const eal = withDefaults(opts.ealArgs);
  shim.initEal(eal.args);
  shim.openPort(opts.port, opts.rxDescriptors ?? 1024, opts.txDescriptors ?? 1024, opts.mbufs ?? (mtu > 4000 ? 4095 : 8191), mtu);
  shim.setAddress(opts.port, ip, udpPort);
  for (const n of opts.neighbours ?? []) shim.addNeighbour(opts.port, parseIPv4(n.ip), parseMac(n.mac));

  const io = new DpdkPacketIO(shim, opts.port, mtu);
  const transport = new DatagramTransport({
    name: "dpdk",
    scheme: "dpdk",
    io,
    localIp: opts.localIp,
    localPort: udpPort,
    spinMs: opts.spinMs,
    maxNapUs: opts.maxNapUs,
    idleYieldUs: opts.idleYieldUs,
    endpoint: opts.endpoint,
    onClose: () => {
      shim.closePort(opts.port);
      if (eal.generatedPrefix) rmSync(join("/var/run/dpdk", eal.generatedPrefix), { recursive: true, force: true });
    },
  });
  return Object.assign(transport, {
    name: "dpdk" as const,
    linkUp: () => shim.linkUp(opts.port),
    stats: (): DpdkStats => {
      const s = shim.stats(opts.port).map(Number);
      return {
        txCalls: s[Stat.TxCalls]!,
        txPackets: s[Stat.TxPackets]!,
        rxCalls: s[Stat.RxCalls]!,
        rxNonEmptyCalls: s[Stat.RxNonEmptyCalls]!,
        rxPackets: s[Stat.RxPackets]!,
        txRingFull: s[Stat.TxRingFull]!,
        rxBadChecksum: s[Stat.RxBadChecksum]!,
        txLinkDown: s[Stat.TxLinkDown]!,
        reconnects: s[Stat.Reconnects]!,
        reconnectsFailed: s[Stat.ReconnectFailed]!,
        endpoint: transport.endpointStats,
      };
    },
  });
}
