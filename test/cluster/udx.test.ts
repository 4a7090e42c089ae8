// The TypeScript UDX against itself: the parts of the udx-native API that interop tests do not reach.
import { afterEach, describe, expect, test } from "bun:test";
import { UDX } from "../../src/cluster/udx/udx.js";
import type { UDXSocket } from "../../src/cluster/udx/socket.js";
import type { UDXStream } from "../../src/cluster/udx/stream.js";

const udx = new UDX();
const open: UDXSocket[] = [];

function socket(): UDXSocket {
  const s = udx.createSocket();
  s.bind(0, "127.0.0.1");
  open.push(s);
  return s;
}

function pair(a: UDXSocket, b: UDXSocket, idA: number, idB: number): [UDXStream, UDXStream] {
  const sa = udx.createStream(idA);
  const sb = udx.createStream(idB);
  sa.connect(a, idB, b.address()!.port, "127.0.0.1");
  sb.connect(b, idA, a.address()!.port, "127.0.0.1");
  return [sa, sb];
}

const nextData = (s: UDXStream) => new Promise<string>((r) => s.once("data", (d: Buffer) => r(d.toString())));

afterEach(async () => {
  for (const s of open.splice(0)) {
    for (const st of s.streams) st.destroy();
    await s.close();
  }
}, 30_000);

describe("UDX on Bun", () => {
  test("bind is synchronous and reports the kernel's port", () => {
    const s = socket();
    expect(s.bound).toBe(true);
    expect(s.address()!.port).toBeGreaterThan(0);
    expect(() => udx.createSocket().bind(s.address()!.port, "127.0.0.1")).toThrow();
  });

  test("datagrams with a per-send TTL (hole punching) are delivered on loopback", async () => {
    const a = socket(), b = socket();
    const got = new Promise<string>((r) => b.once("message", (m: Buffer) => r(m.toString())));
    a.trySend(Buffer.from("low ttl"), b.address()!.port, "127.0.0.1", 1);
    expect(await got).toBe("low ttl");
  });

  test("unreliable stream messages arrive as 'message'", async () => {
    const [a, b] = pair(socket(), socket(), 11, 12);
    const got = new Promise<string>((r) => b.once("message", (m: Buffer) => r(m.toString())));
    expect(await a.send(Buffer.from("ping"))).toBe(true);
    expect(await got).toBe("ping");
  });

  test("destroying one end resets the other with ECONNRESET", async () => {
    const [a, b] = pair(socket(), socket(), 21, 22);
    const err = new Promise<any>((r) => b.once("error", r));
    a.destroy();
    expect((await err).code).toBe("ECONNRESET");
  });

  test("ending both sides closes both streams cleanly", async () => {
    const [a, b] = pair(socket(), socket(), 31, 32);
    b.resume();
    a.resume();
    const closed = Promise.all([new Promise((r) => a.once("close", r)), new Promise((r) => b.once("close", r))]);
    a.end(Buffer.from("bye"));
    b.end();
    await closed;
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  test("relayTo forwards a stream through a middle node", async () => {
    // client <-> relayIn ... relayOut <-> server, the middle relays in both directions
    const cs = socket(), ms = socket(), ss = socket();
    const client = udx.createStream(41), server = udx.createStream(44);
    const relayIn = udx.createStream(42), relayOut = udx.createStream(43);
    client.connect(cs, 42, ms.address()!.port, "127.0.0.1");
    relayIn.connect(ms, 41, cs.address()!.port, "127.0.0.1");
    relayOut.connect(ms, 44, ss.address()!.port, "127.0.0.1");
    server.connect(ss, 43, ms.address()!.port, "127.0.0.1");
    relayIn.relayTo(relayOut);
    relayOut.relayTo(relayIn);
    // the ends talk to each other's ids through the relay, which rewrites the id
    const atServer = nextData(server);
    client.write(Buffer.from("through the relay"));
    expect(await atServer).toBe("through the relay");
    const atClient = nextData(client);
    server.write(Buffer.from("and back"));
    expect(await atClient).toBe("and back");
  });

  test("changeRemote moves a stream to another socket and keeps it ordered", async () => {
    const a1 = socket(), a2 = socket(), b = socket();
    const [sa, sb] = pair(a1, b, 51, 52);
    const chunks: string[] = [];
    sb.on("data", (d: Buffer) => chunks.push(d.toString()));
    sa.write(Buffer.from("one,"));
    await sa.changeRemote(a2, 52, b.address()!.port, "127.0.0.1");
    // b must now accept packets from a's new socket: the peer re-points its remote as hyperdht would
    await sb.changeRemote(b, 51, a2.address()!.port, "127.0.0.1");
    sa.write(Buffer.from("two"));
    const deadline = Date.now() + 5000;
    while (chunks.join("") !== "one,two" && Date.now() < deadline) await Bun.sleep(10);
    expect(chunks.join("")).toBe("one,two");
    expect(sa.socket).toBe(a2);
    expect(a1.streams.size).toBe(0);
  });

  test("a firewall sees the first packet from an unknown socket and may connect there", async () => {
    const a = socket(), b = socket();
    const seen: number[] = [];
    const sb = udx.createStream(62, {
      firewall: (sock, port, host) => {
        seen.push(port);
        sb.connect(sock, 61, port, host);
        return false;
      },
    });
    const sa = udx.createStream(61);
    sa.connect(a, 62, b.address()!.port, "127.0.0.1");
    const got = nextData(sb);
    sa.write(Buffer.from("knock"));
    expect(await got).toBe("knock");
    expect(seen).toEqual([a.address()!.port]);
  });

  test("network interfaces include loopback; lookup resolves localhost", async () => {
    const ifaces = udx.networkInterfaces();
    expect(ifaces.some((i) => i.host === "127.0.0.1" && i.family === 4 && i.internal)).toBe(true);
    const watcher = udx.watchNetworkInterfaces();
    expect(watcher.interfaces.length).toBe(ifaces.length);
    await watcher.destroy();
    expect((await udx.lookup("localhost", { family: 4 })).host).toBe("127.0.0.1");
  });
});
