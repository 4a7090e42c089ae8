// Cluster formation: static peers and hyperswarm discovery on a local testnet, admission by secret,
// membership events, graceful leave. Real sockets on 127.0.0.1, fast protocol timings.
import { afterEach, describe, expect, test } from "bun:test";
import { createClusterNode, type ClusterNode, type MembershipEvent } from "../../src/cluster/index.js";
import { SwarmDiscovery } from "../../src/cluster/discovery.js";
import { deriveClusterKeys } from "../../src/cluster/keys.js";

const SECRET = "orders-test-secret-5f0c1a9e2d";
const fast = { probeIntervalMs: 100, probeTimeoutMs: 50, gossipIntervalMs: 30, syncIntervalMs: 500 };
/** For tests that assert nobody is failed: slack for a loaded machine's event-loop stalls. */
const relaxed = { probeIntervalMs: 200, probeTimeoutMs: 150, gossipIntervalMs: 30, syncIntervalMs: 500 };
const nodes: ClusterNode[] = [];
const closers: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  const t0 = Date.now();
  await Promise.allSettled(nodes.splice(0).map((n) => n.close()));
  const t1 = Date.now();
  for (const c of closers.splice(0).reverse()) await c();
  if (process.env.CLUSTER_TEST_TIMING) console.log("close", t1 - t0, "closers", Date.now() - t1);
}, 30_000);

async function node(opts: Partial<Parameters<typeof createClusterNode>[0]> & { name?: string; secret?: string }) {
  const n = await createClusterNode({
    name: "orders",
    secret: SECRET,
    metadata: {},
    discovery: false,
    host: "127.0.0.1",
    swim: fast,
    ...opts,
  });
  nodes.push(n);
  return n;
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await Bun.sleep(20);
  }
  return check();
}

const alive = (n: ClusterNode) => n.members().filter((m) => m.state === "alive").map((m) => m.id).sort();

describe("cluster formation", () => {
  test("static peers form one cluster and share metadata", async () => {
    const a = await node({ metadata: { appId: "a" } });
    const b = await node({ metadata: { appId: "b" }, peers: [a.address] });
    const c = await node({ metadata: { appId: "c" }, peers: [a.address] });
    const all = [a.id, b.id, c.id].sort();
    expect(await until(() => [a, b, c].every((n) => alive(n).join() === all.join()))).toBe(true);
    expect(c.member(b.id)!.metadata).toEqual({ appId: "b" });
  });

  test("a node with another secret is never admitted", async () => {
    const warnings: string[] = [];
    const a = await node({ log: (level, msg) => level === "warn" && warnings.push(msg) });
    const b = await node({ peers: [a.address] });
    const intruder = await node({ secret: "another-secret-0f3e9d71ab42", peers: [a.address] });
    expect(await until(() => alive(a).includes(b.id))).toBe(true);
    expect(await until(() => warnings.some((w) => w.includes("rejected")))).toBe(true);
    expect(alive(a)).not.toContain(intruder.id);
    expect(alive(intruder)).toEqual([intruder.id]);
  });

  test("events report joins, metadata updates and a graceful leave", async () => {
    const a = await node({ swim: relaxed });
    const events = a.events();
    const b = await node({ peers: [a.address], metadata: { load: "1" }, swim: relaxed });
    const seen: MembershipEvent[] = [];
    const want = async (type: string) => {
      for (;;) {
        const { value, done } = await events.next();
        if (done) throw new Error("event stream ended");
        seen.push(value);
        if (value.type === type && value.member.id === b.id) return value;
      }
    };
    expect((await want("join")).member.metadata).toEqual({ load: "1" });
    b.setMetadata({ load: "2" });
    expect((await want("update")).member.metadata).toEqual({ load: "2" });
    await b.leave();
    expect((await want("leave")).member.state).toBe("left");
    expect(seen.some((e) => e.type === "fail")).toBe(false);
    await events.return?.();
  });

  test("a killed member is marked failed", async () => {
    const a = await node({});
    const b = await node({ peers: [a.address] });
    expect(await until(() => alive(a).includes(b.id))).toBe(true);
    await b.close(); // no leave: to the others it just stops answering
    expect(await until(() => a.member(b.id)?.state === "dead")).toBe(true);
  });
});

describe("cluster discovery on a local hyperswarm testnet", () => {
  test("members find each other by name and secret, and a swarm peer without the secret is rejected", async () => {
    const createTestnet = require("@hyperswarm/testnet");
    const testnet = await createTestnet(3, { host: "127.0.0.1" });
    closers.push(() => testnet.destroy());
    const bootstrap = testnet.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`);
    const warnings: string[] = [];
    const opts = { discovery: true, bootstrap, dhtHost: "127.0.0.1", log: (l: string, m: string) => l === "warn" && warnings.push(m) };
    const a = await node({ ...opts, metadata: { appId: "a" } });
    const b = await node({ ...opts, metadata: { appId: "b" } });
    const c = await node({ ...opts, metadata: { appId: "c" } });
    const all = [a.id, b.id, c.id].sort().join();
    expect(await until(() => [a, b, c].every((n) => alive(n).join() === all), 30_000)).toBe(true);

    // Someone who learnt the topic but not the secret: joins the swarm, fails the admission proof.
    const keys = await deriveClusterKeys("orders", SECRET);
    const wrong = await deriveClusterKeys("orders", "guessed-secret-7a2c5e90d1b3");
    const admittedByIntruder: string[] = [];
    const intruder = new SwarmDiscovery({
      topic: keys.topic,
      proofKey: wrong.proofKey,
      hello: { id: "intruder", port: 9 },
      bootstrap,
      host: "127.0.0.1",
      log: () => {},
      onPeer: (addr) => admittedByIntruder.push(addr),
    });
    closers.push(() => intruder.close());
    await intruder.start();
    expect(await until(() => warnings.some((w) => w.includes("without the cluster secret")), 30_000)).toBe(true);
    expect(admittedByIntruder).toEqual([]);
    expect(alive(a)).not.toContain("intruder");
  }, 60_000);

  test("a member unreachable over UDP (as behind a NAT) is probed over its swarm connection", async () => {
    const createTestnet = require("@hyperswarm/testnet");
    const testnet = await createTestnet(3, { host: "127.0.0.1" });
    closers.push(() => testnet.destroy());
    const bootstrap = testnet.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`);
    const opts = { name: "nat", discovery: true, bootstrap, dhtHost: "127.0.0.1", swim: relaxed };
    const a = await node(opts);
    // Bound to 127.0.0.1 but advertising 127.0.0.2: datagrams sent to its advertised address go nowhere.
    const hidden = await node({ ...opts, advertiseHost: "127.0.0.2" });
    expect(hidden.address.startsWith("127.0.0.2:")).toBe(true);
    expect(await until(() => alive(a).includes(hidden.id) && alive(hidden).includes(a.id), 30_000)).toBe(true);
    const trouble: string[] = [];
    a.on("event", (e) => e.member.id === hidden.id && e.type === "fail" && trouble.push(e.type));
    // Many protocol periods (200 ms) and suspicion timeouts pass; over UDP alone it is failed within ~1.5 s.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && trouble.length === 0) await Bun.sleep(50);
    expect(trouble).toEqual([]);
    expect(a.member(hidden.id)!.state).toBe("alive");
  }, 60_000);
});
