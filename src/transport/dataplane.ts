// Picks the sidecar-to-sidecar data plane from the CLI flags: DPDK when asked for and able to start,
// otherwise the kernel path, with one log line saying why.
import { createDpdkTransport, splitEalArgs, type DpdkTransportOptions } from "./dpdk";
import type { Transport } from "./transport";

export interface DataplaneFlags {
  /** --dataplane kernel|dpdk (default kernel) */
  dataplane?: string;
  /** --dpdk-args "<EAL args>" */
  dpdkArgs?: string;
  /** --dpdk-port N (default 0) */
  dpdkPort?: number;
  /** --dpdk-ip A.B.C.D: this node's address on the DPDK port (required with --dataplane dpdk) */
  dpdkIp?: string;
  /** --dpdk-udp-port (default 47100) */
  dpdkUdpPort?: number;
  /** --dpdk-mtu (default 1500) */
  dpdkMtu?: number;
}

export interface DataplaneDeps {
  /** Builds the kernel-path transport (plain TCP today, Connect + mTLS later). */
  kernel: () => Transport | Promise<Transport>;
  log: (line: string) => void;
  createDpdk?: (opts: DpdkTransportOptions) => Promise<Transport>;
}

export async function createDataplane(flags: DataplaneFlags, deps: DataplaneDeps): Promise<Transport> {
  const mode = flags.dataplane ?? "kernel";
  if (mode === "kernel") return deps.kernel();
  if (mode !== "dpdk") throw new Error(`--dataplane must be "kernel" or "dpdk", not "${mode}"`);
  if (!flags.dpdkIp) throw new Error("--dataplane dpdk needs --dpdk-ip (this node's IPv4 address on the DPDK port)");
  const opts: DpdkTransportOptions = {
    ealArgs: splitEalArgs(flags.dpdkArgs ?? ""),
    port: flags.dpdkPort ?? 0,
    localIp: flags.dpdkIp,
    udpPort: flags.dpdkUdpPort,
    mtu: flags.dpdkMtu,
  };
  try {
    const transport = await (deps.createDpdk ?? createDpdkTransport)(opts);
    deps.log(`data plane: dpdk on port ${opts.port} (${opts.localIp})`);
    return transport;
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    deps.log(`data plane: dpdk unavailable (${reason}); using the kernel path`);
    return deps.kernel();
  }
}
