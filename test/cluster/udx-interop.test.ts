// The TypeScript UDX (Bun) against the real udx-native (libudx under Node.js): datagrams, and a 64 MB
// stream each way at once with checksums, clean and with 5% random loss injected on the Bun side.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { UDX } from "../../src/cluster/udx/udx.js";
import type { UDXSocket } from "../../src/cluster/udx/socket.js";
import { NodePeer, nodeBinary } from "./node-peer.js";

const STREAM_BYTES = 64 * 1024 * 1024;

if (!nodeBinary) console.warn("skipping udx interop: `node` is not on PATH");

describe.skipIf(!nodeBinary)("udx interop with udx-native under Node.js", () => {
  let peer: NodePeer;
  let peerPort: number;
  const udx = new UDX();
  let socket: UDXSocket;
  let nextId = 1;

  beforeAll(async () => {
    peer = NodePeer.start("udx-native-peer.cjs");
    peerPort = (await peer.next("ready")).port as number;
    socket = udx.createSocket();
    socket.bind(0, "127.0.0.1");
  }, 30_000);

  afterAll(async () => {
    await peer?.stop();
    // A stream whose last ack was lost may still be retransmitting its END to a peer that is gone.
    for (const s of socket?.streams ?? []) s.destroy();
    await socket?.close();
  }, 30_000);

  test("datagrams flow both ways", async () => {
    const fromPeer = new Promise<{ data: Buffer; port: number }>((resolve) =>
      socket.once("message", (data: Buffer, from: { port: number }) => resolve({ data, port: from.port })),
    );
    peer.send({ cmd: "dgram", port: socket.address()!.port, data: Buffer.from("hello from node").toString("base64") });
    const got = await fromPeer;
    expect(got.data.toString()).toBe("hello from node");
    expect(got.port).toBe(peerPort);

    expect(await socket.send(Buffer.from("hello from bun"), peerPort, "127.0.0.1")).toBe(true);
    const echoed = await peer.next("dgram");
    expect(Buffer.from(echoed.data as string, "base64").toString()).toBe("hello from bun");
    expect(echoed.port).toBe(socket.address()!.port);
  });

  async function exchange(lossRate: number) {
    socket.setPacketLoss(lossRate > 0 ? { incoming: lossRate, outgoing: lossRate } : null);
    const localId = nextId++;
    const remoteId = 1000 + localId;
    const stream = udx.createStream(localId);
    const received = createHash("sha256");
    let receivedBytes = 0;
    stream.on("data", (d: Buffer) => {
      received.update(d);
      receivedBytes += d.byteLength;
    });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    peer.send({ cmd: "stream", localId: remoteId, remoteId: localId, port: socket.address()!.port, size: STREAM_BYTES });
    stream.connect(socket, remoteId, peerPort, "127.0.0.1");

    const sent = createHash("sha256");
    const chunk = 65536;
    for (let off = 0; off < STREAM_BYTES; off += chunk) {
      const buf = randomBytes(chunk);
      sent.update(buf);
      if (!stream.write(buf)) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
    await ended;
    const report = await peer.next("stream-done", 120_000);
    await peer.next("stream-closed", 30_000);
    socket.setPacketLoss(null);
    return { stream, report, sent: sent.digest("hex"), received: received.digest("hex"), receivedBytes };
  }

  test("a 64 MB stream each way arrives intact", async () => {
    const r = await exchange(0);
    expect(r.receivedBytes).toBe(STREAM_BYTES);
    expect(r.report.receivedBytes).toBe(STREAM_BYTES);
    expect(r.report.receivedSha256).toBe(r.sent);
    expect(r.received).toBe(r.report.sentSha256 as string);
    // Both sides probed the path MTU up from 1200 with padded packets, and each accepted the other's probes.
    expect(r.stream.mtu).toBeGreaterThan(1200);
    expect(r.report.mtu as number).toBeGreaterThan(1200);
  }, 120_000);

  test("a 64 MB stream each way arrives intact with 5% loss on the Bun side", async () => {
    const r = await exchange(0.05);
    expect(r.receivedBytes).toBe(STREAM_BYTES);
    expect(r.report.receivedSha256).toBe(r.sent);
    expect(r.received).toBe(r.report.sentSha256 as string);
    expect(r.stream.retransmits).toBeGreaterThan(0);
  }, 120_000);
});
