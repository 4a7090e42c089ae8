import { afterAll, describe, expect, test } from "bun:test";
import { createKernelTransport } from "../../src/transport/kernel";
import { TransportError } from "../../src/transport/transport";
import { checksumEcho, payload, sha256 } from "./payloads";

describe("kernel transport (TCP on loopback)", () => {
  const server = createKernelTransport();
  const client = createKernelTransport();
  let address = "";
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  test("answers requests from 0 B to 1 MB with intact bodies", async () => {
    address = await server.listen(checksumEcho);
    for (const size of [0, 1, 64, 1024, 16 * 1024, 100_003, 1024 * 1024]) {
      const body = payload(size, size);
      const res = await client.request(address, { kind: "invoke", path: `p${size}`, headers: { a: "b" }, body });
      expect(res.status).toBe(200);
      expect(res.headers["x-sha256"]).toBe(sha256(body));
      expect(res.headers["x-path"]).toBe(`p${size}`);
      expect(sha256(res.body)).toBe(sha256(body.slice().reverse()));
    }
  });

  test("keeps 500 concurrent requests apart", async () => {
    const sizes = Array.from({ length: 500 }, (_, i) => (i * 37) % 3000);
    const results = await Promise.all(
      sizes.map((size, i) => client.request(address, { kind: "invoke", path: `c${i}`, headers: {}, body: payload(size, i) })),
    );
    results.forEach((res, i) => {
      expect(res.headers["x-path"]).toBe(`c${i}`);
      expect(res.headers["x-sha256"]).toBe(sha256(payload(sizes[i]!, i)));
    });
  });

  test("turns a handler failure into status 500", async () => {
    const failing = createKernelTransport();
    const addr = await failing.listen(async () => {
      throw new Error("boom");
    });
    const res = await client.request(addr, { kind: "invoke", path: "x", headers: {}, body: new Uint8Array(0) });
    expect(res.status).toBe(500);
    expect(new TextDecoder().decode(res.body)).toBe("boom");
    await failing.close();
  });

  test("reports an unreachable peer as a TransportError", async () => {
    const closed = createKernelTransport();
    const addr = await closed.listen(checksumEcho);
    await closed.close();
    const err = await client
      .request(addr, { kind: "invoke", path: "x", headers: {}, body: new Uint8Array(1) }, { timeoutMs: 2000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(["unreachable", "timeout"]).toContain((err as TransportError).code);
  });
});
