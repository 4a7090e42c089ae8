// Two Bun processes talk through the DPDK transport over net_memif (shared memory between processes).
import { afterEach, describe, expect, test } from "bun:test";
import { ealAvailability, MemifLink } from "./harness";

const availability = await ealAvailability();
if (!availability.ok) console.log(`[skip] DPDK memif tests: EAL cannot start here: ${availability.reason}`);
const dpdkTest = test.skipIf(!availability.ok);

const SERVER_IP = "10.77.0.1";
let link: MemifLink | undefined;

afterEach(async () => {
  await link?.cleanup();
  link = undefined;
});

function startServer(l: MemifLink) {
  return l.spawn({ role: "server", localIp: SERVER_IP, ealArgs: l.memifArgs("server"), peerTimeoutMs: 1000 });
}

function startClient(l: MemifLink, mode: string, ip = "10.77.0.2") {
  return l.spawn({ role: "client", localIp: ip, peerIp: SERVER_IP, ealArgs: l.memifArgs("client"), mode, peerTimeoutMs: 1000 });
}

describe("DPDK transport over net_memif between two processes", () => {
  dpdkTest("exchanges 64 B to 1 MB requests and responses with checksums intact", async () => {
    link = new MemifLink("sizes");
    const server = startServer(link);
    await server.waitFor("ready", 15_000);
    const client = startClient(link, "sizes");
    const { results, concurrentOk, stats } = await client.waitFor("results", 30_000);
    expect(results).toEqual([64, 1024, 16384, 65536, 1048576].map((size) => ({ size, ok: true })));
    expect(concurrentOk).toBe(true);
    const s = stats as { txPackets: number; txCalls: number };
    expect(s.txPackets).toBeGreaterThan(s.txCalls); // bursts really carry several packets per FFI call
  }, 60_000);

  dpdkTest("carries the same exchange in 9000-byte jumbo frames when memif buffers are large enough", async () => {
    link = new MemifLink("jumbo");
    const server = link.spawn({ role: "server", localIp: SERVER_IP, ealArgs: link.memifArgs("server", 9216), mtu: 9000 });
    await server.waitFor("ready", 15_000);
    const client = link.spawn({
      role: "client",
      localIp: "10.77.0.2",
      peerIp: SERVER_IP,
      ealArgs: link.memifArgs("client", 9216),
      mtu: 9000,
      mode: "sizes",
    });
    const { results, concurrentOk, stats } = await client.waitFor("results", 30_000);
    expect(results).toEqual([64, 1024, 16384, 65536, 1048576].map((size) => ({ size, ok: true })));
    expect(concurrentOk).toBe(true);
    // 1 MB in ~9 KB frames: well under the ~730 packets it takes at MTU 1500
    expect((stats as { txPackets: number }).txPackets).toBeLessThan(1000);
  }, 60_000);

  dpdkTest("a client killed mid-transfer leaves the server serving the next client", async () => {
    link = new MemifLink("kill-client");
    const server = startServer(link);
    await server.waitFor("ready", 15_000);
    const doomed = startClient(link, "stream");
    await doomed.waitFor("progress", 30_000); // 1 MB requests are flowing
    doomed.proc.kill("SIGKILL");
    await doomed.proc.exited;

    const next = startClient(link, "sizes", "10.77.0.3");
    const { results } = await next.waitFor("results", 30_000);
    expect((results as { ok: boolean }[]).every((r) => r.ok)).toBe(true);
    expect(server.alive()).toBe(true);
  }, 90_000);

  dpdkTest("a server killed while a request waits gives the client a clear error, not a hang", async () => {
    link = new MemifLink("kill-server");
    const server = startServer(link);
    await server.waitFor("ready", 15_000);
    const client = startClient(link, "slow");
    await server.waitFor("slow-arrived", 30_000);
    server.proc.kill("SIGKILL");
    const failed = await client.waitFor("slow-failed", 15_000);
    expect(failed.code).toBe("unreachable");
    expect(String(failed.message)).toContain(`${SERVER_IP}:47100`);
    await client.waitFor("alive", 5_000);
    expect(await client.proc.exited).toBe(0);
  }, 60_000);
});
