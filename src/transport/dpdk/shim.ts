// Loads ffi/dpdk/build/librapr_dpdk.so with bun:ffi. Nothing here touches DPDK until a function is called,
// so importing this module is safe on machines without DPDK.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export const SHIM_VERSION = 4;
export const DESC_WORDS = 3; // length, peer IPv4 (host order), peer UDP port
export const UDP_OVERHEAD = 28; // IPv4 + UDP headers
export const DEFAULT_MTU = 1500;
export const MAX_BURST = 256;

export const enum Stat {
  TxCalls,
  TxPackets,
  TxRingFull,
  TxNoMbuf,
  RxCalls,
  RxNonEmptyCalls,
  RxPackets,
  RxDelivered,
  RxNotForUs,
  RxBadChecksum,
  RxMalformed,
  ArpReplies,
  TxLinkDown,
  Reconnects,
  ReconnectFailed,
  Count,
}

const ERROR_NAMES: Record<number, string> = {
  [-1]: "EAL init failed",
  [-2]: "EAL not initialised",
  [-3]: "no such port",
  [-4]: "mempool creation failed",
  [-5]: "port configuration failed",
  [-6]: "queue setup failed",
  [-7]: "port start failed",
  [-8]: "bad arguments",
  [-9]: "port not open",
  [-10]: "packet too big",
  [-11]: "neighbour table full",
  [-12]: "MTU not supported",
};

export class DpdkError extends Error {
  constructor(
    readonly operation: string,
    readonly code: number,
    detail: string,
  ) {
    super(`dpdk ${operation}: ${ERROR_NAMES[code] ?? `error ${code}`}${detail ? ` (${detail})` : ""}`);
    this.name = "DpdkError";
  }
}

const symbols = {
  rapr_dpdk_version: { args: [], returns: FFIType.i32 },
  rapr_dpdk_init: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  rapr_dpdk_port_count: { args: [], returns: FFIType.i32 },
  rapr_dpdk_port_open: {
    args: [FFIType.u16, FFIType.u16, FFIType.u16, FFIType.u32, FFIType.u16],
    returns: FFIType.i32,
  },
  rapr_dpdk_port_set_addr: { args: [FFIType.u16, FFIType.u32, FFIType.u16], returns: FFIType.i32 },
  rapr_dpdk_port_mac: { args: [FFIType.u16, FFIType.ptr], returns: FFIType.i32 },
  rapr_dpdk_link_up: { args: [FFIType.u16], returns: FFIType.i32 },
  rapr_dpdk_peer_lost: { args: [FFIType.u16], returns: FFIType.i32 },
  rapr_dpdk_neigh_add: { args: [FFIType.u16, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  rapr_dpdk_tx: {
    args: [FFIType.u16, FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u32],
    returns: FFIType.i32,
  },
  rapr_dpdk_rx: {
    args: [FFIType.u16, FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u32],
    returns: FFIType.i32,
  },
  rapr_dpdk_stats: { args: [FFIType.u16, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  rapr_dpdk_port_close: { args: [FFIType.u16], returns: FFIType.i32 },
  rapr_dpdk_nap: { args: [FFIType.u32], returns: FFIType.i32 },
  rapr_dpdk_last_error: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

type ShimSymbols = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

export function shimCandidates(): string[] {
  const fromEnv = process.env.RAPR_DPDK_SHIM;
  const exeDir = dirname(process.execPath);
  const candidates = [
    join(exeDir, "librapr_dpdk.so"),
    join(exeDir, "..", "ffi", "dpdk", "build", "librapr_dpdk.so"),
    join(import.meta.dir, "..", "..", "..", "ffi", "dpdk", "build", "librapr_dpdk.so"),
    join(process.cwd(), "ffi", "dpdk", "build", "librapr_dpdk.so"),
  ];
  return fromEnv ? [fromEnv] : [...new Set(candidates)];
}

export type LoadResult = { ok: true; shim: DpdkShim } | { ok: false; reason: string };

let loaded: LoadResult | undefined;

/** Finds and loads the shim once per process; the reason is one line fit for a log. */
export function loadShim(): LoadResult {
  if (loaded) return loaded;
  const candidates = shimCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    loaded = {
      ok: false,
      reason: `DPDK shim librapr_dpdk.so not found (looked in ${candidates.join(", ")}); build it with ffi/dpdk/build.sh`,
    };
    return loaded;
  }
  try {
    const lib = dlopen(path, symbols);
    const version = lib.symbols.rapr_dpdk_version();
    if (version !== SHIM_VERSION) {
      loaded = { ok: false, reason: `DPDK shim ${path} has version ${version}, rapr needs ${SHIM_VERSION}; rebuild it` };
    } else {
      loaded = { ok: true, shim: new DpdkShim(lib.symbols) };
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    const hint = /librte_|cannot open shared object/.test(message) ? " (is libdpdk installed? apt-get install dpdk)" : "";
    loaded = { ok: false, reason: `cannot load DPDK shim ${path}: ${message}${hint}` };
  }
  return loaded;
}

/** Thin checked wrapper: every negative return becomes a DpdkError with the shim's own description. */
export class DpdkShim {
  private readonly errorBuf = new Uint8Array(512);

  constructor(readonly raw: ShimSymbols) {}

  lastError(): string {
    const n = this.raw.rapr_dpdk_last_error(ptr(this.errorBuf), this.errorBuf.length);
    return new TextDecoder().decode(this.errorBuf.subarray(0, Math.max(0, n)));
  }

  check(operation: string, rc: number): number {
    if (rc < 0) throw new DpdkError(operation, rc, this.lastError());
    return rc;
  }

  initEal(args: string[]): void {
    const joined = new TextEncoder().encode(args.map((a) => `${a}\0`).join(""));
    const buf = new Uint8Array(joined.length + 1);
    buf.set(joined);
    this.check("EAL init", this.raw.rapr_dpdk_init(ptr(buf), args.length));
  }

  portCount(): number {
    return this.check("port count", this.raw.rapr_dpdk_port_count());
  }

  openPort(port: number, rxDesc: number, txDesc: number, mbufs: number, mtu = DEFAULT_MTU): void {
    this.check(`open port ${port}`, this.raw.rapr_dpdk_port_open(port, rxDesc, txDesc, mbufs, mtu));
  }

  setAddress(port: number, ip: number, udpPort: number): void {
    this.check("set address", this.raw.rapr_dpdk_port_set_addr(port, ip >>> 0, udpPort));
  }

  mac(port: number): Uint8Array {
    const out = new Uint8Array(6);
    this.check("read MAC", this.raw.rapr_dpdk_port_mac(port, ptr(out)));
    return out;
  }

  linkUp(port: number): boolean {
    return this.check("link status", this.raw.rapr_dpdk_link_up(port)) === 1;
  }

  addNeighbour(port: number, ip: number, mac: Uint8Array): void {
    this.check("add neighbour", this.raw.rapr_dpdk_neigh_add(port, ip >>> 0, ptr(mac)));
  }

  stats(port: number): bigint[] {
    const out = new BigUint64Array(Stat.Count);
    this.check("stats", this.raw.rapr_dpdk_stats(port, ptr(out), Stat.Count));
    return Array.from(out);
  }

  closePort(port: number): void {
    this.check(`close port ${port}`, this.raw.rapr_dpdk_port_close(port));
  }
}
