// Two Bun processes, each in its own network namespace, talk through the DPDK transport over net_af_packet
// on the two ends of a veth pair.
import { afterEach, describe, expect, test } from "bun:test";
import { ealAvailability, VethLab } from "./harness";

const availability = await ealAvailability();
let reason = availability.ok ? undefined : `EAL cannot start here: ${availability.reason}`;
if (!reason) {
  const probe = new VethLab("probe");
  reason = probe.setUp();
  await probe.cleanup();
  if (reason) reason = `cannot create network namespaces with a veth pair: ${reason}`;
}
if (reason) console.log(`[skip] DPDK af_packet tests: ${reason}`);
const vethTest = test.skipIf(reason !== undefined);

const SERVER_IP = "10.78.0.1";
let lab: VethLab | undefined;

afterEach(async () => {
  await lab?.cleanup();
  lab = undefined;
});

describe("DPDK transport over net_af_packet on a veth pair between network namespaces", () => {
  vethTest("exchanges 64 B to 1 MB requests with checksums intact, and survives a client killed mid-transfer", async () => {
    lab = new VethLab("afp");
    const setUpError = lab.setUp();
    expect(setUpError).toBeUndefined();
    const server = lab.spawn(
      { role: "server", localIp: SERVER_IP, ealArgs: lab.afPacketArgs("a"), peerTimeoutMs: 1000 },
      lab.nsA,
    );
    await server.waitFor("ready", 15_000);
    const client = lab.spawn(
      { role: "client", localIp: "10.78.0.2", peerIp: SERVER_IP, ealArgs: lab.afPacketArgs("b"), mode: "sizes" },
      lab.nsB,
    );
    const { results, concurrentOk } = await client.waitFor("results", 30_000);
    expect(results).toEqual([64, 1024, 16384, 65536, 1048576].map((size) => ({ size, ok: true })));
    expect(concurrentOk).toBe(true);

    const doomed = lab.spawn(
      { role: "client", localIp: "10.78.0.3", peerIp: SERVER_IP, ealArgs: lab.afPacketArgs("b"), mode: "stream" },
      lab.nsB,
    );
    await doomed.waitFor("progress", 30_000);
    doomed.proc.kill("SIGKILL");
    await doomed.proc.exited;
    const next = lab.spawn(
      { role: "client", localIp: "10.78.0.4", peerIp: SERVER_IP, ealArgs: lab.afPacketArgs("b"), mode: "sizes" },
      lab.nsB,
    );
    const after = await next.waitFor("results", 30_000);
    expect((after.results as { ok: boolean }[]).every((r) => r.ok)).toBe(true);
    expect(server.alive()).toBe(true);
  }, 120_000);
});
