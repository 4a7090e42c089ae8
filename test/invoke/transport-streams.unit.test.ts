// Streams on the sidecar transport (gRPC proxying rides on them): data both ways as it comes, the server's head
// and trailers, flow control, resets, and what a lost connection does to open streams.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";
import { MtlsTransport, PEER_IDENTITY_HEADER } from "../../src/transport/mtls/index.js";
import { TransportError, type ClientStreamEvents, type StreamEvents, type StreamHandler } from "../../src/transport/transport.js";
import { waitFor } from "../support/ports.js";
import { decodeMessage, MessageType } from "../../src/transport/wire.js";

const root = mkdtempSync(join(tmpdir(), "rapr-streams-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const id = (appId: string) => ({ trustDomain: "public", namespace: "default", appId });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const open = (headers: Record<string, string> = {}) => ({ kind: "grpc-stream", path: "/svc/M", headers, body: new Uint8Array() });

/** Records what a client hears. */
function recorder() {
  const seen = { head: undefined as { status: number; headers: Record<string, string> } | undefined, data: [] as string[], trailers: undefined as Record<string, string> | undefined, reset: undefined as TransportError | undefined, drains: 0 };
  const events: ClientStreamEvents = {
    head: (h) => (seen.head = h),
    data: (c) => seen.data.push(text(c)),
    end: (t) => (seen.trailers = t),
    reset: (e) => (seen.reset = e),
    drain: () => seen.drains++,
  };
  return { seen, events };
}

async function pair(handler: StreamHandler | undefined, maxMessageBytes?: number) {
  const ca = await loadOrCreateCa(join(root, "ca"));
  const server = new MtlsTransport({ tls: await issueLeaf(ca, id("b")), maxMessageBytes });
  const client = new MtlsTransport({ tls: await issueLeaf(ca, id("a")), maxMessageBytes });
  const addr = await server.listen(async () => ({ status: 200, headers: {}, body: new Uint8Array() }), handler);
  return { server, client, addr, close: () => Promise.all([client.close(), server.close()]) };
}

describe("transport streams", () => {
  test("messages go both ways as they come; identities both ways; the server's head and trailers arrive", async () => {
    let callerSeen = "";
    const t = await pair((o, peer) => {
      callerSeen = o.headers[PEER_IDENTITY_HEADER] ?? "";
      peer.head(200, { "content-type": "application/grpc" });
      return { data: (c) => peer.write(bytes(`echo:${text(c)}`)), end: () => peer.end({ "grpc-status": "0" }), reset() {}, drain() {} };
    });
    try {
      const { seen, events } = recorder();
      const peer = await t.client.openStream!(t.addr, open({ [PEER_IDENTITY_HEADER]: "spiffe://public/ns/default/forged" }), events);
      expect(peer.identity).toBe("spiffe://public/ns/default/b");
      for (let i = 0; i < 5; i++) {
        peer.write(bytes(String(i)));
        await waitFor(() => seen.data.length === i + 1, `echo ${i}`, 3000, 1);
      }
      expect(callerSeen).toBe("spiffe://public/ns/default/a"); // stamped by the transport, not taken from the caller
      expect(seen.head?.headers["content-type"]).toBe("application/grpc");
      expect(seen.data).toEqual(["echo:0", "echo:1", "echo:2", "echo:3", "echo:4"]);
      peer.end();
      await waitFor(() => seen.trailers !== undefined, "trailers", 3000, 1);
      expect(seen.trailers?.["grpc-status"]).toBe("0");
      expect(peer.write(bytes("late"))).toBe(false);
    } finally {
      await t.close();
    }
  });

  test("flow control: after the receiver asks for a pause, write returns false until it resumes (drain)", async () => {
    let server!: Parameters<StreamHandler>[1];
    const got: string[] = [];
    const t = await pair((_o, peer) => {
      server = peer;
      return { data: (c) => got.push(text(c)), end() {}, reset() {}, drain() {} };
    });
    try {
      const { seen, events } = recorder();
      const peer = await t.client.openStream!(t.addr, open(), events);
      expect(peer.write(bytes("one"))).toBe(true);
      await waitFor(() => got.length === 1, "first message", 3000, 1);
      server.pause();
      await waitFor(() => !peer.write(bytes("more")), "the pause to arrive", 3000, 1);
      server.resume();
      await waitFor(() => seen.drains === 1, "drain", 3000, 1);
      expect(peer.write(bytes("after"))).toBe(true);
      await waitFor(() => got.at(-1) === "after", "the message after the pause", 3000, 1);
      peer.reset("done");
    } finally {
      await t.close();
    }
  });

  test("a chunk larger than a frame is split and arrives whole", async () => {
    let total = 0;
    const t = await pair(() => ({ data: (c) => (total += c.length), end() {}, reset() {}, drain() {} }), 64 * 1024);
    try {
      const peer = await t.client.openStream!(t.addr, open(), recorder().events);
      peer.write(new Uint8Array(300 * 1024).fill(7));
      await waitFor(() => total === 300 * 1024, "all bytes", 5000, 5);
      peer.end();
    } finally {
      await t.close();
    }
  });

  test("a reset reaches the other side; a server without a stream handler resets at once", async () => {
    let serverHeard: TransportError | undefined;
    const t = await pair(() => ({ data() {}, end() {}, reset: (e) => (serverHeard = e), drain() {} }));
    const bare = await pair(undefined);
    try {
      const peer = await t.client.openStream!(t.addr, open(), recorder().events);
      peer.write(bytes("x"));
      peer.reset("the caller cancelled the call");
      await waitFor(() => serverHeard !== undefined, "server reset", 3000, 1);
      expect(serverHeard!.message).toContain("the caller cancelled the call");

      const { seen, events } = recorder();
      await bare.client.openStream!(bare.addr, open(), events);
      await waitFor(() => seen.reset !== undefined, "reset", 3000, 1);
      expect(seen.reset!.message).toContain("takes no streams");
    } finally {
      await t.close();
      await bare.close();
    }
  });

  test("a lost connection resets every open stream on both sides", async () => {
    const serverSide: StreamEvents[] = [];
    let serverResets = 0;
    const t = await pair(() => {
      const events: StreamEvents = { data() {}, end() {}, reset: () => void serverResets++, drain() {} };
      serverSide.push(events);
      return events;
    });
    try {
      const a = recorder();
      const b = recorder();
      await t.client.openStream!(t.addr, open(), a.events);
      await t.client.openStream!(t.addr, open(), b.events);
      await waitFor(() => serverSide.length === 2, "both streams open", 3000, 1);
      await t.server.close();
      await waitFor(() => a.seen.reset !== undefined && b.seen.reset !== undefined, "client resets", 3000, 1);
      expect(a.seen.reset!.code).toBe("unreachable");
      expect(serverResets).toBe(2);
    } finally {
      await t.close();
    }
  });
});

describe("transport streams: a failing owner", () => {
  test("an event handler that throws resets its own stream only; requests and other streams on the connection go on", async () => {
    let peers = 0;
    const t = await pair((_o, peer) => {
      const n = ++peers;
      return { data: (c) => peer.write(bytes(`${n}:${text(c)}`)), end: () => peer.end({}), reset() {}, drain() {} };
    });
    try {
      const good = recorder();
      const bad = recorder();
      bad.events.data = () => {
        throw new Error("the owner broke");
      };
      const goodPeer = await t.client.openStream!(t.addr, open(), good.events);
      const badPeer = await t.client.openStream!(t.addr, open(), bad.events);
      badPeer.write(bytes("x"));
      await waitFor(() => bad.seen.reset !== undefined, "the failing stream's reset", 3000, 1);
      expect(bad.seen.reset!.message).toContain("the owner broke");
      goodPeer.write(bytes("y"));
      await waitFor(() => good.seen.data.length === 1, "the other stream's answer", 3000, 1);
      const res = await t.client.request(t.addr, { kind: "invoke", path: "m", headers: {}, body: bytes("z") });
      expect(res.status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe("transport streams: flow control with a backed-up connection", () => {
  test("paused by the reader and blocked by a full socket at once: after the socket drains and the reader resumes, writes go on", async () => {
    let server!: Parameters<StreamHandler>[1];
    let got = 0;
    const t = await pair((_o, peer) => {
      server = peer;
      return { data: (c) => (got += c.length), end() {}, reset() {}, drain() {} };
    }, 64 * 1024 * 1024);
    try {
      const { seen, events } = recorder();
      const peer = await t.client.openStream!(t.addr, open(), events);
      await Bun.sleep(20);
      server.pause();
      await waitFor(() => !peer.write(new Uint8Array(1)), "the pause to arrive", 3000, 1);
      peer.write(new Uint8Array(32 * 1024 * 1024)); // more than the socket takes at once: the connection backs up
      await Promise.resolve();
      await Promise.resolve();
      expect(peer.write(new Uint8Array(10))).toBe(false);
      const total = 32 * 1024 * 1024 + 10 + got; // what was sent while waiting for the pause counts too
      await waitFor(() => got >= total - 64, "everything to arrive", 15_000, 10);
      server.resume();
      await waitFor(() => seen.drains > 0, "a drain after the resume", 3000, 5);
      expect(peer.write(new Uint8Array(10))).toBe(true);
    } finally {
      await t.close();
    }
  }, 30_000);
});

describe("transport streams: peers of other versions", () => {
  test("a message type this sidecar does not know is answered with a reset for its id, not silence", async () => {
    const server = new MtlsTransport();
    try {
      const addr = await server.listen(async () => ({ status: 200, headers: {}, body: new Uint8Array() }), () => ({ data() {}, end() {}, reset() {}, drain() {} }));
      const port = Number(addr.split(":").pop());
      const got = await new Promise<Uint8Array>((resolve, reject) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open: (s) => void s.write(new Uint8Array([0, 0, 0, 5, 42, 0, 0, 0, 7])), // length 5: type 42, id 7
            data: (_s, chunk) => resolve(new Uint8Array(chunk)),
            error: (_s, err) => reject(err),
          },
        }).catch(reject);
      });
      const msg = decodeMessage(got, 4);
      expect(msg.type).toBe(MessageType.StreamReset);
      expect(msg.id).toBe(7);
      expect("response" in msg && msg.response.headers.reason).toContain("message type 42");
    } finally {
      await server.close();
    }
  });
});
