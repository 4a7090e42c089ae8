import { describe, expect, test } from "bun:test";
import { createDataplane } from "../../src/transport/dataplane";
import { createKernelTransport } from "../../src/transport/kernel";
import type { Transport } from "../../src/transport/transport";

function deps(createDpdk?: () => Promise<Transport>) {
  const lines: string[] = [];
  return { lines, deps: { kernel: () => createKernelTransport(), log: (l: string) => lines.push(l), createDpdk } };
}

describe("data plane selection", () => {
  test("uses the kernel path by default", async () => {
    const { lines, deps: d } = deps();
    const t = await createDataplane({}, d);
    expect(t.name).toBe("kernel");
    expect(lines).toEqual([]);
  });

  test("falls back to the kernel path with one log line when DPDK cannot start", async () => {
    const { lines, deps: d } = deps(() => Promise.reject(new Error("DPDK shim librapr_dpdk.so not found (looked in /x)")));
    const t = await createDataplane({ dataplane: "dpdk", dpdkArgs: "--no-huge -l 0", dpdkIp: "10.0.0.1" }, d);
    expect(t.name).toBe("kernel");
    expect(lines).toEqual(["data plane: dpdk unavailable (DPDK shim librapr_dpdk.so not found (looked in /x)); using the kernel path"]);
  });

  test("passes the flags to the DPDK factory", async () => {
    let seen: unknown;
    const fake = { name: "dpdk" } as Transport;
    const { deps: d } = deps();
    const t = await createDataplane(
      { dataplane: "dpdk", dpdkArgs: "--no-huge -m 256 '--vdev=net_memif0,role=server'", dpdkPort: 1, dpdkIp: "10.0.0.9", dpdkMtu: 9000 },
      {
        ...d,
        createDpdk: async (opts) => {
          seen = opts;
          return fake;
        },
      },
    );
    expect(t).toBe(fake);
    expect(seen).toEqual({
      ealArgs: ["--no-huge", "-m", "256", "--vdev=net_memif0,role=server"],
      port: 1,
      localIp: "10.0.0.9",
      udpPort: undefined,
      mtu: 9000,
    });
  });

  test("rejects an unknown data plane and a DPDK request without an address", async () => {
    const { deps: d } = deps();
    await expect(createDataplane({ dataplane: "rdma" }, d)).rejects.toThrow('--dataplane must be "kernel" or "dpdk"');
    await expect(createDataplane({ dataplane: "dpdk" }, d)).rejects.toThrow("--dpdk-ip");
  });
});
