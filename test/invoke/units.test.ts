import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileOperation, decide, parseAccessControl } from "../../src/security/access-control.js";
import { parseSpiffeId, spiffeFromSubjectAltName, spiffeId } from "../../src/security/spiffe.js";
import { parseTarget } from "../../src/blocks/invoke/target.js";
import { nextTraceparent, traceIdOf } from "../../src/blocks/invoke/tracing.js";
import { parseStaticMap, StaticResolver } from "../../plugins/nameresolution.static/index.js";
import { LocalDirectoryResolver } from "../../plugins/nameresolution.local/index.js";
import { queryOf } from "../../src/api/http/respond.js";

describe("targets", () => {
  test("app.namespace splits at the last dot; the own app id is never split", () => {
    expect(parseTarget("orders", "default")).toEqual({ appId: "orders", namespace: "default" });
    expect(parseTarget("orders.prod", "default")).toEqual({ appId: "orders", namespace: "prod" });
    expect(parseTarget("my.app", "default", "my.app")).toEqual({ appId: "my.app", namespace: "default" });
  });
});

describe("query passed to the app", () => {
  test("the raw query is what URL.search gives, without parsing the URL when nothing needs encoding", () => {
    const urls = ["http://h/a?x=1&y=2", "http://h/a", "http://h/a?", "http://h/a?x=1#f", "http://h/a#f?x=1", "http://h/a?q=a b", "http://h/a?q='x'", "http://h/a?q=é", "http://h/a?q=%20&z=<>", "http://h/a?a=1?b=2", 'http://h/a?q="`'];
    for (const u of urls) expect(queryOf(u)).toBe(new URL(u).search.slice(1));
  });
});

describe("trace context", () => {
  test("keeps the trace id and flags, replaces the span id", () => {
    const tp = nextTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    expect(tp).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
    expect(tp).not.toContain("00f067aa0ba902b7");
  });
  test("creates one when absent or invalid", () => {
    for (const bad of [undefined, "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"]) {
      const tp = nextTraceparent(bad);
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(traceIdOf(tp)).not.toBe("0".repeat(32));
    }
  });
});

describe("SPIFFE ids", () => {
  test("round trip and extraction from subjectaltname", () => {
    const id = { trustDomain: "public", namespace: "default", appId: "orders" };
    expect(parseSpiffeId(spiffeId(id))).toEqual(id);
    expect(spiffeFromSubjectAltName("DNS:localhost, URI:spiffe://td/ns/prod/cart, IP Address:127.0.0.1")).toEqual({ trustDomain: "td", namespace: "prod", appId: "cart" });
    expect(parseSpiffeId("spiffe://td/orders")).toBeUndefined();
  });
});

describe("access control", () => {
  const acl = parseAccessControl({
    defaultAction: "deny",
    trustDomain: "public",
    policies: [
      {
        appId: "a",
        defaultAction: "allow",
        namespace: "default",
        operations: [
          { name: "/admin", httpVerb: ["*"], action: "deny" },
          { name: "/admin/health", httpVerb: ["GET"], action: "allow" },
          { name: "/v1/*/items/**", httpVerb: ["POST"], action: "deny" },
        ],
      },
    ],
  }, "test.yaml")!;
  const a = { appId: "a", namespace: "default", trustDomain: "public" };

  test("patterns: a plain path covers what is below it; * is one segment; ** the rest", () => {
    expect(compileOperation("/admin").test("/admin/x/y")).toBe(true);
    expect(compileOperation("/admin").test("/administrator")).toBe(false);
    expect(compileOperation("/v1/*/items").test("/v1/x/items")).toBe(true);
    expect(compileOperation("/v1/*/items").test("/v1/x/y/items")).toBe(false);
    expect(compileOperation("/v1/**").test("/v1/x/y")).toBe(true);
  });

  test("the most specific matching operation decides; verbs must match", () => {
    expect(decide(acl, a, "admin/users", "GET").allowed).toBe(false);
    expect(decide(acl, a, "admin/health", "GET").allowed).toBe(true);
    expect(decide(acl, a, "admin/health", "POST").allowed).toBe(false);
    expect(decide(acl, a, "v1/x/items/9/sub", "POST").allowed).toBe(false);
    expect(decide(acl, a, "v1/x/items/9/sub", "GET").allowed).toBe(true); // policy default allow
  });

  test("unknown caller, other namespace or trust domain → global default", () => {
    expect(decide(acl, undefined, "x", "GET").allowed).toBe(false);
    expect(decide(acl, { ...a, namespace: "prod" }, "x", "GET").allowed).toBe(false);
    expect(decide(acl, { ...a, trustDomain: "other" }, "x", "GET").allowed).toBe(false);
  });

  test("no accessControl section → everything allowed; bad actions are reported with their place", () => {
    expect(decide(undefined, undefined, "x", "GET").allowed).toBe(true);
    expect(() => parseAccessControl({ defaultAction: "maybe" }, "c.yaml")).toThrow(/c\.yaml: spec\.accessControl\.defaultAction/);
  });
});

describe("name resolution", () => {
  test("static: appId and appId.namespace keys", async () => {
    const r = new StaticResolver(parseStaticMap("orders=mtls://127.0.0.1:7001; cart.prod=mtls://127.0.0.1:7002,mtls://127.0.0.1:7003"));
    expect(await r.resolve("orders")).toEqual(["mtls://127.0.0.1:7001"]);
    expect(await r.resolve("cart", "prod")).toEqual(["mtls://127.0.0.1:7002", "mtls://127.0.0.1:7003"]);
    expect(await r.resolve("cart")).toEqual([]);
    expect(() => parseStaticMap("nonsense")).toThrow(/appId=address/);
  });

  test("local directory: register, resolve, stale entries of dead processes are swept, close removes own entry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-nr-"));
    try {
      const a = new LocalDirectoryResolver(dir, 0);
      await a.register({ appId: "orders", namespace: "default", address: "mtls://127.0.0.1:7001", pid: process.pid });
      const dead = Bun.spawnSync(["true"]).pid; // a pid that has exited
      const b = new LocalDirectoryResolver(dir, 0);
      await b.register({ appId: "orders", namespace: "default", address: "mtls://127.0.0.1:9999", pid: dead });
      expect(await a.resolve("orders")).toEqual(["mtls://127.0.0.1:7001"]);
      expect(readdirSync(join(dir, "default"))).toEqual([`orders.${process.pid}.json`]);
      expect(await a.resolve("orders", "prod")).toEqual([]);
      await a.close();
      expect(await b.resolve("orders")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
