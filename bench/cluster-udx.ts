// UDX stream throughput on loopback: the TypeScript UDX (Bun) against itself and against the real
// udx-native under Node.js, one direction at a time, optionally with random loss on the Bun socket.
// Usage: bun bench/cluster-udx.ts [--mb 64] [--loss 0.05]
import { randomBytes } from "node:crypto";
import { UDX } from "../src/cluster/udx/udx.js";
import type { UDXStream } from "../src/cluster/udx/stream.js";
import { NodePeer, nodeBinary } from "../test/cluster/node-peer.js";
import { flagNumber } from "./flags.js";

const bytes = flagNumber("mb", 64) * 1024 * 1024;
const loss = flagNumber("loss", 0);
const chunk = randomBytes(65536);

async function pump(stream: UDXStream, total: number): Promise<void> {
  for (let off = 0; off < total; off += chunk.byteLength) {
    if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r));
  }
  stream.end();
}

function drain(stream: UDXStream): Promise<number> {
  let n = 0;
  stream.on("data", (d: Buffer) => (n += d.byteLength));
  return new Promise((resolve) => stream.on("end", () => resolve(n)));
}

const mbps = (n: number, ms: number) => ((n / 1024 / 1024) / (ms / 1000)).toFixed(1);

async function bunToBun(): Promise<string> {
  const udx = new UDX();
  const a = udx.createSocket();
  const b = udx.createSocket();
  a.bind(0, "127.0.0.1");
  b.bind(0, "127.0.0.1");
  if (loss) a.setPacketLoss({ incoming: loss, outgoing: loss });
  const sa = udx.createStream(1);
  const sb = udx.createStream(2);
  sa.connect(a, 2, b.address()!.port, "127.0.0.1");
  sb.connect(b, 1, a.address()!.port, "127.0.0.1");
  sa.resume();
  const t0 = performance.now();
  const got = drain(sb);
  await pump(sa, bytes);
  const n = await got;
  const ms = performance.now() - t0;
  sb.end();
  await new Promise((r) => sa.once("close", r));
  await Promise.all([a.close(), b.close()]);
  return `bun -> bun   ${mbps(n, ms)} MB/s (retransmits ${sa.retransmits}, mtu ${sa.mtu})`;
}

async function withNode(direction: "to-node" | "from-node"): Promise<string> {
  const peer = NodePeer.start("udx-native-peer.cjs");
  const peerPort = (await peer.next("ready")).port as number;
  const udx = new UDX();
  const socket = udx.createSocket();
  socket.bind(0, "127.0.0.1");
  if (loss) socket.setPacketLoss({ incoming: loss, outgoing: loss });
  const stream = udx.createStream(1);
  const got = drain(stream);
  peer.send({ cmd: "stream", localId: 2, remoteId: 1, port: socket.address()!.port, size: direction === "from-node" ? bytes : 0 });
  stream.connect(socket, 2, peerPort, "127.0.0.1");
  const t0 = performance.now();
  if (direction === "to-node") await pump(stream, bytes);
  else stream.end();
  const received = await got;
  const report = await peer.next("stream-done", 300_000);
  const ms = performance.now() - t0;
  await peer.stop();
  await socket.close().catch(() => {});
  const n = direction === "to-node" ? (report.receivedBytes as number) : received;
  return direction === "to-node"
    ? `bun -> node  ${mbps(n, ms)} MB/s (retransmits ${stream.retransmits}, mtu ${stream.mtu})`
    : `node -> bun  ${mbps(n, ms)} MB/s (udx-native retransmits ${report.retransmits})`;
}

console.log(`UDX stream, ${bytes / 1024 / 1024} MB one way on loopback${loss ? `, ${loss * 100}% loss each way on the Bun socket` : ""}`);
console.log(await bunToBun());
if (nodeBinary) {
  console.log(await withNode("to-node"));
  console.log(await withNode("from-node"));
}
process.exit(0);
