// A real hyperswarm under Node.js (udx-native) and a hyperswarm in Bun (TypeScript UDX, substituted for
// udx-native at module resolution by the test preload) find each other on a local testnet DHT.
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { NodePeer, nodeBinary } from "./node-peer.js";

if (!nodeBinary) console.warn("skipping hyperswarm interop: `node` is not on PATH");

describe.skipIf(!nodeBinary)("hyperswarm interop", () => {
  let peer: NodePeer | undefined;
  let swarm: any;

  afterAll(async () => {
    await swarm?.destroy();
    await peer?.stop();
  }, 30_000);

  test("udx-native resolves to the TypeScript UDX under Bun", () => {
    const UDX = require("udx-native");
    expect(String(UDX)).not.toContain("binding");
    expect(typeof new UDX().createSocket().bind).toBe("function");
  });

  test("a Node swarm and a Bun swarm meet on a topic and exchange data", async () => {
    const Hyperswarm = require("hyperswarm");
    const DHT = require("hyperdht");
    peer = NodePeer.start("hyperswarm-peer.cjs");
    const ready = await peer.next("ready");
    const topic = randomBytes(32);
    peer.send({ cmd: "join", topic: topic.toString("hex") });
    await peer.next("joined");

    swarm = new Hyperswarm({ dht: new DHT({ bootstrap: ready.bootstrap, host: "127.0.0.1" }) });
    const fromNode = new Promise<{ data: string; remote: string }>((resolve) =>
      swarm.on("connection", (conn: any, info: any) => {
        conn.on("error", () => {});
        conn.once("data", (d: Buffer) => resolve({ data: d.toString(), remote: info.publicKey.toString("hex") }));
        conn.write("hello from bun");
      }),
    );
    swarm.join(topic, { server: true, client: true });

    const got = await fromNode;
    expect(got.data).toBe("hello from node");
    expect(got.remote).toBe(ready.publicKey as string);
    const atNode = await peer.next("data");
    expect(atNode.data).toBe("hello from bun");
  }, 60_000);
});
