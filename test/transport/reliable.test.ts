// The DPDK transport's reliability layer, run over an in-memory network with injected loss (no DPDK needed).
import { afterEach, describe, expect, test } from "bun:test";
import { DatagramTransport, parseIPv4 } from "../../src/transport/dpdk/datagram-transport";
import { MemoryNetwork } from "../../src/transport/dpdk/memory-io";
import { TransportError } from "../../src/transport/transport";
import { checksumEcho, payload, sha256 } from "./payloads";

const PORT = 47100;
const open: DatagramTransport[] = [];

function node(net: MemoryNetwork, ip: string, peerTimeoutMs = 3000) {
  const t = new DatagramTransport({
    name: "memory",
    scheme: "dpdk",
    io: net.attach(parseIPv4(ip), PORT),
    localIp: ip,
    localPort: PORT,
    spinMs: 5,
    endpoint: { peerTimeoutMs, minRtoMs: 5 },
    onClose: () => net.detach(parseIPv4(ip), PORT),
  });
  open.push(t);
  return t;
}

function seededLoss(rate: number, seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x / 0x100000000 < rate;
  };
}

afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function roundTrip(client: DatagramTransport, address: string, size: number, seed: number) {
  const body = payload(size, seed);
  const res = await client.request(address, { kind: "invoke", path: `s${seed}`, headers: { n: String(size) }, body });
  expect(res.status).toBe(200);
  expect(res.headers["x-sha256"]).toBe(sha256(body));
  expect(res.headers["x-path"]).toBe(`s${seed}`);
  expect(sha256(res.body)).toBe(sha256(body.slice().reverse()));
}

describe("reliable datagram transport", () => {
  test("moves 0 B to 1 MB messages intact over a lossless network", async () => {
    const net = new MemoryNetwork();
    const server = node(net, "10.1.0.1");
    const client = node(net, "10.1.0.2");
    const address = await server.listen(checksumEcho);
    for (const size of [0, 1, 64, 1431, 1432, 1433, 16 * 1024, 1024 * 1024]) await roundTrip(client, address, size, size);
    expect(client.endpointStats.retransmits).toBe(0);
  });

  test("recovers from 10% packet loss in both directions, with concurrent messages interleaved", async () => {
    const net = new MemoryNetwork();
    net.drop = seededLoss(0.1, 42);
    const server = node(net, "10.1.0.1");
    const client = node(net, "10.1.0.2");
    const address = await server.listen(checksumEcho);
    const sizes = [1024 * 1024, 64, 200_000, 1, 5000, ...Array.from({ length: 40 }, (_, i) => i * 97)];
    await Promise.all(sizes.map((size, i) => roundTrip(client, address, size, i + 1)));
    expect(net.dropped).toBeGreaterThan(0);
    expect(client.endpointStats.retransmits + server.endpointStats.retransmits).toBeGreaterThan(0);
  });

  test("fails waiting requests with a clear error when the peer dies, then talks to its successor", async () => {
    const net = new MemoryNetwork();
    const server = node(net, "10.1.0.1", 300);
    const client = node(net, "10.1.0.2", 300);
    let arrived!: () => void;
    const slowArrived = new Promise<void>((r) => (arrived = r));
    const address = await server.listen(async (req) => {
      if (req.path === "slow") {
        arrived();
        return new Promise(() => {}); // never answers
      }
      return checksumEcho(req);
    });
    const pending = client.request(address, { kind: "invoke", path: "slow", headers: {}, body: payload(300_000, 7) });
    await slowArrived;
    net.detach(parseIPv4("10.1.0.1"), PORT); // the server vanishes without a word
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe("unreachable");
    expect((err as TransportError).message).toContain("10.1.0.1:47100");

    const successor = node(net, "10.1.0.1", 300);
    await successor.listen(checksumEcho);
    await roundTrip(client, address, 100_000, 9);
  });

  test("a peer that closes its transport fails the requests waiting on it at once", async () => {
    const net = new MemoryNetwork();
    const server = node(net, "10.1.0.1", 60_000);
    const client = node(net, "10.1.0.2", 60_000);
    let arrived!: () => void;
    const slowArrived = new Promise<void>((r) => (arrived = r));
    const address = await server.listen(async () => {
      arrived();
      return new Promise(() => {});
    });
    const pending = client.request(address, { kind: "invoke", path: "slow", headers: {}, body: payload(64, 1) });
    await slowArrived;
    await server.close();
    const err = (await pending.catch((e: unknown) => e)) as TransportError;
    expect(err.code).toBe("unreachable");
    expect(err.message).toContain("closed its transport");
  });

  test("a restarted client's new session is served even though the old one was mid-transfer", async () => {
    const net = new MemoryNetwork();
    const server = node(net, "10.1.0.1", 300);
    const address = await server.listen(checksumEcho);
    const first = node(net, "10.1.0.2", 300);
    let sent = 0;
    net.drop = ({ srcIp }) => srcIp === parseIPv4("10.1.0.2") && ++sent > 50; // the client dies after 50 packets
    const doomed = first.request(address, { kind: "invoke", path: "big", headers: {}, body: payload(1024 * 1024, 1) });
    doomed.catch(() => {});
    const deadline = Date.now() + 5000;
    while (sent <= 50 && Date.now() < deadline) await Bun.sleep(1);
    await first.close();
    net.drop = () => false;
    const second = node(net, "10.1.0.2", 300);
    await roundTrip(second, address, 1024 * 1024, 2);
    await roundTrip(second, address, 64, 3);
  });

  test("a peer that was quiet longer than the peer timeout is not mistaken for a dead one", async () => {
    const net = new MemoryNetwork();
    const server = node(net, "10.1.0.1", 300);
    const client = node(net, "10.1.0.2", 300);
    const address = await server.listen(checksumEcho);
    await roundTrip(client, address, 64, 1);
    await Bun.sleep(700); // the idle gap under test
    await roundTrip(client, address, 64, 2);
    expect(client.endpointStats.peerResets).toBe(0);
  });

  test("rejects a malformed address with a TransportError instead of throwing", async () => {
    const net = new MemoryNetwork();
    const client = node(net, "10.1.0.2");
    const err = await client.request("not-an-address", { kind: "x", path: "x", headers: {}, body: new Uint8Array(0) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
  });

  test("rejects a message above the size limit before sending it", async () => {
    const net = new MemoryNetwork();
    const client = node(net, "10.1.0.2");
    const err = await client
      .request("10.1.0.1:47100", { kind: "x", path: "x", headers: {}, body: new Uint8Array(9 * 1024 * 1024) })
      .catch((e: unknown) => e);
    expect((err as TransportError).code).toBe("too-large");
  });
});

describe("splitEalArgs", () => {
  test("splits --dpdk-args into EAL words, keeping quoted groups", async () => {
    const { splitEalArgs } = await import("../../src/transport/dpdk");
    expect(splitEalArgs(` --no-huge -m 256  --vdev="net_memif0,role=server,socket=/tmp/a b.sock" -l 0 `)).toEqual([
      "--no-huge",
      "-m",
      "256",
      "--vdev=net_memif0,role=server,socket=/tmp/a b.sock",
      "-l",
      "0",
    ]);
  });
});
