import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";
import { MtlsTransport, PEER_IDENTITY_HEADER } from "../../src/transport/mtls/index.js";
import { TransportError } from "../../src/transport/transport.js";

const root = mkdtempSync(join(tmpdir(), "rapr-mtls-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const id = (appId: string) => ({ trustDomain: "public", namespace: "default", appId });
const req = (body = "x", headers: Record<string, string> = {}) => ({ kind: "invoke", path: "m", headers, body: new TextEncoder().encode(body) });

describe("local CA", () => {
  test("sidecars starting at once share one CA; the key is private to the owner", async () => {
    const dir = join(root, "ca-race");
    const cas = await Promise.all([loadOrCreateCa(dir), loadOrCreateCa(dir), loadOrCreateCa(dir)]);
    expect(new Set(cas.map((c) => c.pem)).size).toBe(1);
    expect(statSync(join(dir, "ca.key")).mode & 0o077).toBe(0);
  });
});

describe("mTLS transport", () => {
  test("the server stamps the caller's certificate identity; a header claiming one is replaced", async () => {
    const ca = await loadOrCreateCa(join(root, "ca1"));
    const server = new MtlsTransport({ tls: await issueLeaf(ca, id("b")) });
    const client = new MtlsTransport({ tls: await issueLeaf(ca, id("a")) });
    try {
      const addr = await server.listen(async (r) => ({ status: 200, headers: { seen: r.headers[PEER_IDENTITY_HEADER] ?? "", [PEER_IDENTITY_HEADER]: "spiffe://public/ns/default/forged" }, body: r.body }));
      expect(addr).toMatch(/^mtls:\/\/127\.0\.0\.1:\d+$/);
      const res = await client.request(addr, req("hello", { [PEER_IDENTITY_HEADER]: "spiffe://public/ns/default/admin" }));
      expect(res.headers.seen).toBe("spiffe://public/ns/default/a");
      expect(res.headers[PEER_IDENTITY_HEADER]).toBe("spiffe://public/ns/default/b"); // the answering server's identity
      expect(new TextDecoder().decode(res.body)).toBe("hello");
      // Many concurrent requests share the connection and each gets its own answer.
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request(addr, req(`n${i}`))));
      expect(many.map((r) => new TextDecoder().decode(r.body))).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("a client whose certificate comes from another CA is refused", async () => {
    const server = new MtlsTransport({ tls: await issueLeaf(await loadOrCreateCa(join(root, "ca2")), id("b")) });
    const intruder = new MtlsTransport({ tls: await issueLeaf(await loadOrCreateCa(join(root, "ca3")), id("a")) });
    try {
      const addr = await server.listen(async () => ({ status: 200, headers: {}, body: new Uint8Array() }));
      const err = await intruder.request(addr, req(), { timeoutMs: 3000 }).catch((e) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe("unreachable");
    } finally {
      await intruder.close();
      await server.close();
    }
  });

  test("requests in flight fail with 'unreachable' when the peer goes away; nothing listening is 'unreachable'", async () => {
    const ca = await loadOrCreateCa(join(root, "ca4"));
    const server = new MtlsTransport({ tls: await issueLeaf(ca, id("b")) });
    const client = new MtlsTransport({ tls: await issueLeaf(ca, id("a")) });
    try {
      const addr = await server.listen(() => new Promise(() => {})); // never answers
      const pending = client.request(addr, req());
      await Bun.sleep(50);
      await server.close();
      const err = await pending.catch((e) => e);
      expect((err as TransportError).code).toBe("unreachable");
      const again = await client.request(addr, req(), { timeoutMs: 2000 }).catch((e) => e);
      expect((again as TransportError).code).toBe("unreachable");
      // A malformed address is a rejected promise too, never a synchronous throw.
      const malformed = client.request("no-port-here", req());
      expect(await malformed.catch((e) => e)).toBeInstanceOf(TransportError);
    } finally {
      await client.close();
    }
  });

  test("plain TCP mode (--enable-mtls=false) carries no identity", async () => {
    const server = new MtlsTransport();
    const client = new MtlsTransport();
    try {
      const addr = await server.listen(async (r) => ({ status: 200, headers: { seen: r.headers[PEER_IDENTITY_HEADER] ?? "none" }, body: r.body }));
      expect(addr).toMatch(/^tcp:\/\//);
      const res = await client.request(addr, req("x", { [PEER_IDENTITY_HEADER]: "spiffe://public/ns/default/admin" }));
      expect(res.headers.seen).toBe("none");
    } finally {
      await client.close();
      await server.close();
    }
  });
});
