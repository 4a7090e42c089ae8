import { afterAll, describe, expect, test } from "bun:test";
import { Http1Error, Http1Pool } from "../../src/app/http1-client.js";

const dec = new TextDecoder();
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/chunked") {
      const stream = new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("part1-"));
          await Bun.sleep(5);
          c.enqueue(new TextEncoder().encode("part2"));
          c.close();
        },
      });
      return new Response(stream, { headers: { "x-kind": "chunked" } });
    }
    if (url.pathname === "/empty") return new Response(null, { status: 204 });
    if (url.pathname === "/big") return new Response("b".repeat(2_000_000));
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    return Response.json({ method: req.method, path: url.pathname + url.search, body: await req.text(), headers }, { status: url.pathname === "/teapot" ? 418 : 200 });
  },
});
/** A hand-written server for framings Bun.serve does not produce: body to end of connection, close after reply. */
const rawServer = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(s, d) {
      const text = dec.decode(d);
      if (text.includes("/until-close")) {
        s.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nno length here");
        s.end();
      } else if (text.includes("/continue")) {
        s.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-a: 1\r\nx-a: 2\r\n\r\nok");
      } else {
        s.write("garbage\r\n\r\n");
      }
    },
  },
});
afterAll(() => {
  server.stop(true);
  rawServer.stop(true);
});

describe("Http1Pool", () => {
  const pool = new Http1Pool("127.0.0.1", server.port!);
  test("request line, headers and body reach the server; status, headers and body come back", async () => {
    const r = await pool.request({ method: "PUT", target: "/teapot?x=1&y=2", headers: [["x-custom", "yes"], ["content-type", "text/plain"]], body: new TextEncoder().encode("hello") });
    expect(r.status).toBe(418);
    const e = JSON.parse(dec.decode(r.body));
    expect(e).toMatchObject({ method: "PUT", path: "/teapot?x=1&y=2", body: "hello" });
    expect(e.headers["x-custom"]).toBe("yes");
    expect(r.headers["content-type"]).toContain("application/json");
  });
  test("header names that are not HTTP tokens are not sent (a space before the colon could reframe the request)", async () => {
    const headers: [string, string][] = [["transfer-encoding ", "chunked"], ["x bad", "1"], ["x-ok", "yes"]];
    const r = await pool.request({ method: "POST", target: "/names", headers, body: new TextEncoder().encode("hi") });
    expect(r.status).toBe(200);
    const e = JSON.parse(dec.decode(r.body));
    expect(e.body).toBe("hi");
    expect(e.headers["x-ok"]).toBe("yes");
    expect(Object.keys(e.headers).filter((k) => k.includes(" "))).toEqual([]);
  });
  test("chunked bodies, 204 and HEAD without bodies, large bodies", async () => {
    const c = await pool.request({ method: "GET", target: "/chunked", headers: [] });
    expect(dec.decode(c.body)).toBe("part1-part2");
    expect(c.headers["transfer-encoding"]).toBeUndefined();
    expect((await pool.request({ method: "GET", target: "/empty", headers: [] })).status).toBe(204);
    const h = await pool.request({ method: "HEAD", target: "/x", headers: [] });
    expect([h.status, h.body.length]).toEqual([200, 0]);
    expect((await pool.request({ method: "GET", target: "/big", headers: [] })).body.length).toBe(2_000_000);
  });
  test("concurrent requests each get their own answer over pooled connections", async () => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.request({ method: "POST", target: `/n${i}`, headers: [], body: new TextEncoder().encode(String(i)) })));
    expect(rs.map((r) => JSON.parse(dec.decode(r.body)).body)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
  });
  test("a body framed by the end of the connection; 100 Continue skipped; repeated headers joined", async () => {
    const raw = new Http1Pool("127.0.0.1", rawServer.port);
    const u = await raw.request({ method: "GET", target: "/until-close", headers: [] });
    expect(dec.decode(u.body)).toBe("no length here");
    const c = await raw.request({ method: "GET", target: "/continue", headers: [] });
    expect([c.status, dec.decode(c.body), c.headers["x-a"]]).toEqual([201, "ok", "1, 2"]);
    await expect(raw.request({ method: "GET", target: "/bad", headers: [] })).rejects.toBeInstanceOf(Http1Error);
    raw.close();
  });
  test("header values with line breaks are dropped; spaces in the path are percent-encoded", async () => {
    const r = await pool.request({ method: "GET", target: "/a b", headers: [["x-ok", "1"], ["x-evil", "a\r\nx-injected: yes"]] });
    const e = JSON.parse(dec.decode(r.body));
    expect(e.path).toBe("/a%20b");
    expect(e.headers["x-ok"]).toBe("1");
    expect(e.headers["x-injected"]).toBeUndefined();
    await expect(pool.request({ method: "GE T", target: "/", headers: [] })).rejects.toBeInstanceOf(Http1Error);
  });

  test("nothing listening → Http1Error", async () => {
    const dead = new Http1Pool("127.0.0.1", 1);
    await expect(dead.request({ method: "GET", target: "/", headers: [] })).rejects.toBeInstanceOf(Http1Error);
  });
  test("an aborted request rejects", async () => {
    const ac = new AbortController();
    const slow = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Bun.sleep(2000).then(() => new Response("late")) });
    const p = new Http1Pool("127.0.0.1", slow.port!);
    const r = p.request({ method: "GET", target: "/", headers: [], signal: ac.signal });
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Http1Error);
    p.close();
    slow.stop(true);
  });
  test("a deadline bounds the wait for an answer, and a passed one refuses the request before sending it", async () => {
    let hits = 0;
    const slow = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, Bun.sleep(2000).then(() => new Response("late"))) });
    const p = new Http1Pool("127.0.0.1", slow.port!);
    const started = performance.now();
    await expect(p.request({ method: "GET", target: "/", headers: [], deadline: performance.now() + 100 })).rejects.toThrow(/deadline/);
    expect(performance.now() - started).toBeLessThan(1500);
    await expect(p.request({ method: "GET", target: "/", headers: [], deadline: performance.now() - 1 })).rejects.toThrow(/deadline passed/);
    expect(hits).toBe(1);
    p.close();
    slow.stop(true);
  });
  test("closing the pool rejects a request waiting for its answer, and refuses new ones", async () => {
    let started!: () => void;
    const arrived = new Promise<void>((r) => (started = r));
    const slow = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (started(), Bun.sleep(2000).then(() => new Response("late"))) });
    const p = new Http1Pool("127.0.0.1", slow.port!);
    const waiting = p.request({ method: "GET", target: "/", headers: [] });
    await arrived;
    p.close();
    await expect(waiting).rejects.toThrow(/closed before it answered/);
    await expect(p.request({ method: "GET", target: "/", headers: [] })).rejects.toThrow(/pool to 127\.0\.0\.1:\d+ is closed/);
    slow.stop(true);
  });
});
