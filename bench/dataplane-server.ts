// The far side of bench/dataplane.ts: one process serving the same echo handler over DPDK and the kernel path.
import { createDpdkTransport, type DpdkTransport } from "../src/transport/dpdk";
import { createKernelTransport } from "../src/transport/kernel";
import type { TransportRequest, TransportResponse } from "../src/transport/transport";

const { ealArgs, localIp, mtu, maxNapUs, idleYieldUs } = JSON.parse(process.argv[2]!) as {
  ealArgs: string[];
  localIp: string;
  mtu: number;
  maxNapUs: number;
  idleYieldUs: number;
};

async function echo(req: TransportRequest): Promise<TransportResponse> {
  if (req.path === "cpu") {
    const { user, system } = process.cpuUsage();
    return { status: 200, headers: { cpu: String(user + system) }, body: new Uint8Array(0) };
  }
  if (req.path === "stats") {
    return { status: 200, headers: {}, body: new TextEncoder().encode(JSON.stringify(dpdk?.stats() ?? null)) };
  }
  return { status: 200, headers: {}, body: req.body };
}

const kernel = createKernelTransport();
const kernelAddress = await kernel.listen(echo);
let dpdk: DpdkTransport | undefined;
let dpdkAddress: string | undefined;
let dpdkError: string | undefined;
try {
  dpdk = await createDpdkTransport({ ealArgs, port: 0, localIp, mtu, maxNapUs, idleYieldUs, spinMs: 50 });
  dpdkAddress = await dpdk.listen(echo);
} catch (err) {
  dpdkError = err instanceof Error ? err.message : String(err);
}
console.log(JSON.stringify({ kernelAddress, dpdkAddress, dpdkError }));
// Exits when the parent closes stdin (or dies).
for await (const _ of Bun.stdin.stream()) void _;
process.exit(0);
