// A real hyperswarm under Node.js (udx-native) and a hyperswarm in Bun (TypeScript UDX, substituted for
// udx-native at module resolution by the test preload) find each other on a local testnet DHT.
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { NodePeer, nodeBinary } from "./node-peer.js";

if (!nodeBinary) console.warn("skipping hyperswarm interop: `node` is not on PATH");

describe.skipIf(!nodeBinary)("hyperswarm interop", () => {
  let peer: NodePeer | undefined;
  let ready: Awaited<ReturnType<NodePeer["next"]>> | undefined;
  const swarms: any[] = [];

  afterAll(async () => {
    for (const s of swarms) await s.destroy();
    await peer?.stop();
  }, 30_000);

  test("udx-native resolves to the TypeScript UDX under Bun", () => {
    const UDX = require("udx-native");
    expect(String(UDX)).not.toContain("binding");
    expect(typeof new UDX().createSocket().bind).toBe("function");
  });

  // One side announces (server), the other looks up (client), in both arrangements. Neither DHT node is
  // firewalled, so they connect directly: stock hyperdht (the Node side has no src/cluster/hyperdht-fixes.ts)
  // can stall a hole punch between firewalled peers on one host (docs/cluster.md, "Formation").
  async function meet(nodeRole: "server" | "client") {
    const Hyperswarm = require("hyperswarm");
    const DHT = require("hyperdht");
    peer ??= NodePeer.start("hyperswarm-peer.cjs");
    ready ??= await peer.next("ready");
    const topic = randomBytes(32);
    const bunSwarm = new Hyperswarm({ dht: new DHT({ bootstrap: ready.bootstrap, host: "127.0.0.1", firewalled: false }) });
    swarms.push(bunSwarm);
    const fromNode = new Promise<{ data: string; remote: string }>((resolve) =>
      bunSwarm.on("connection", (conn: any, info: any) => {
        conn.on("error", () => {});
        conn.once("data", (d: Buffer) => resolve({ data: d.toString(), remote: info.publicKey.toString("hex") }));
        conn.write("hello from bun");
      }),
    );
    if (nodeRole === "server") {
      peer.send({ cmd: "join", topic: topic.toString("hex"), server: true, client: false });
      await peer.next("joined");
      bunSwarm.join(topic, { server: false, client: true });
    } else {
      await bunSwarm.join(topic, { server: true, client: false }).flushed();
      peer.send({ cmd: "join", topic: topic.toString("hex"), server: false, client: true });
    }
    const got = await fromNode;
    expect(got.data).toBe("hello from node");
    expect(got.remote).toBe(ready.publicKey as string);
    const atNode = await peer.next("data");
    expect(atNode.data).toBe("hello from bun");
  }

  test("a Bun swarm finds a Node swarm's announcement and they exchange data", () => meet("server"), 60_000);
  test("a Node swarm finds a Bun swarm's announcement and they exchange data", () => meet("client"), 60_000);
});
