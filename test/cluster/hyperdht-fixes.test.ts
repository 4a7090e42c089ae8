// The two corrections in src/cluster/hyperdht-fixes.ts, on two in-process hyperdht nodes and a 3-node local
// testnet: a hole punch the server gives up fails the client's connection (stock hyperdht: the client keeps a
// connection to a closed socket), and a node that is reachable is found to be so and connected to directly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { guardResponderEcho, recheckFirewall } from "../../src/cluster/hyperdht-fixes.js";

const DHT = require("hyperdht");
const Holepuncher = require("hyperdht/lib/holepuncher.js");
const createTestnet = require("@hyperswarm/testnet");

type Outcome = "data" | "error" | "silent";

describe("hyperdht fixes", () => {
  let testnet: any;
  const nodes: any[] = [];
  beforeAll(async () => {
    guardResponderEcho(Holepuncher);
    testnet = await createTestnet(3, { host: "127.0.0.1" });
  }, 30_000);
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.destroy({ force: true })));
    await testnet?.destroy();
  }, 30_000);

  async function dhtNode(): Promise<any> {
    const node = new DHT({ bootstrap: testnet.bootstrap });
    nodes.push(node);
    await node.ready();
    return node;
  }

  /** Connects b to an echo server on a; what the client gets within `ms`: the echo, an error, or nothing at all. */
  async function connectOnce(a: any, b: any, ms = 15_000): Promise<Outcome> {
    const server = a.createServer((s: any) => {
      s.on("error", () => {});
      s.on("data", (d: Buffer) => s.write(d));
    });
    await server.listen();
    const client = b.connect(server.publicKey);
    try {
      return await new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => resolve("silent"), ms);
        client.on("error", () => (clearTimeout(timer), resolve("error")));
        client.on("open", () => client.write(Buffer.from("ping")));
        client.on("data", () => (clearTimeout(timer), resolve("data")));
      });
    } finally {
      client.destroy();
      await server.close();
    }
  }

  test("the server side of a hole punch echoes probes only once it punches", () => {
    const sent: unknown[][] = [];
    const ref = { socket: { send: (...args: unknown[]) => (sent.push(args), Promise.resolve(true)) } };
    const probe = Buffer.from([0]);
    const from = { host: "127.0.0.1", port: 4000 };
    const onholepunchmessage = Holepuncher.prototype._onholepunchmessage;
    onholepunchmessage.call({ isInitiator: false, punching: false }, probe, from, ref);
    expect(sent.length).toBe(0);
    onholepunchmessage.call({ isInitiator: false, punching: true }, probe, from, ref);
    expect(sent.length).toBe(1);
    expect(sent[0]!.slice(1, 3)).toEqual([4000, "127.0.0.1"]);
  });

  test("a punch the server gives up fails the client's connection instead of leaving it connected to nothing", async () => {
    // Both nodes count themselves firewalled and know only 2 DHT nodes: the server's NAT analysis cannot reach
    // a verdict (it needs 3 answers), so it gives the punch up every time.
    const [a, b] = await Promise.all([dhtNode(), dhtNode()]);
    expect([a.firewalled, b.firewalled]).toEqual([true, true]);
    expect(await connectOnce(a, b)).toBe("error");
  }, 30_000);

  test("a node reachable on the testnet stops counting itself firewalled and is connected to directly", async () => {
    const [a, b] = await Promise.all([dhtNode(), dhtNode()]);
    expect(await Promise.all([recheckFirewall(a), recheckFirewall(b)])).toEqual([true, true]);
    expect(a.remoteAddress()).not.toBeNull();
    for (let i = 0; i < 3; i++) expect(await connectOnce(a, b)).toBe("data");
    expect(b.stats.punches.open + a.stats.punches.open).toBeGreaterThan(0);
  }, 30_000);
});
