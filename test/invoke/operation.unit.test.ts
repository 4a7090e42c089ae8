// The one normalisation of invocation methods (src/security/operation.ts) and access control matching on it.
import { describe, expect, test } from "bun:test";
import { decide, parseAccessControl } from "../../src/security/access-control.js";
import { InvalidOperationError, normalizeOperation, normalizeQuery, normalizeVerb } from "../../src/security/operation.js";

describe("normalizeOperation", () => {
  test("escapes of unreserved characters and of / are decoded; others keep their meaning in upper-case hex", () => {
    expect(normalizeOperation("%61dmin")).toBe("admin");
    expect(normalizeOperation("adm%69n")).toBe("admin");
    expect(normalizeOperation("%41%7a%30%2d%2E%5f%7E")).toBe("Az0-._~");
    expect(normalizeOperation("a%2Fb")).toBe("a/b");
    expect(normalizeOperation("a%2fb%2f..%2fc")).toBe("a/c");
    expect(normalizeOperation("a%20b%2a%25%5c")).toBe("a%20b%2A%25%5C");
    expect(normalizeOperation("%2561dmin")).toBe("%2561dmin"); // decoded once only
  });

  test("dot segments and duplicate slashes go; .. never climbs above the root; no leading or trailing /", () => {
    expect(normalizeOperation("x/../admin")).toBe("admin");
    expect(normalizeOperation("./admin")).toBe("admin");
    expect(normalizeOperation("/admin")).toBe("admin");
    expect(normalizeOperation("//a///b/")).toBe("a/b");
    expect(normalizeOperation("../../../admin")).toBe("admin");
    expect(normalizeOperation("%2e%2E/admin/.")).toBe("admin");
    expect(normalizeOperation("a/..")).toBe("");
    expect(normalizeOperation("")).toBe("");
    expect(normalizeOperation("...")).toBe("...");
  });

  test("characters a path may not hold raw are escaped (UTF-8)", () => {
    expect(normalizeOperation("a b")).toBe("a%20b");
    expect(normalizeOperation("ключ")).toBe("%D0%BA%D0%BB%D1%8E%D1%87");
    expect(normalizeOperation("🔑\\\"<>")).toBe("%F0%9F%94%91%5C%22%3C%3E");
    expect(normalizeOperation("a:b@c!$&'()*+,;=")).toBe("a:b@c!$&'()*+,;=");
  });

  test("?, #, control characters (raw or escaped) and broken escapes are refused", () => {
    for (const bad of ["admin?x=1", "admin#x", "a\r\nX-Injected: 1", "a\u0000", "a\u007f", "%3F", "%23", "%00", "%0d%0a", "%", "%Z1", "a%4", "\ud800"]) {
      expect(() => normalizeOperation(bad), bad).toThrow(InvalidOperationError);
    }
  });

  test("is idempotent", () => {
    for (const m of ["x/../%61dmin", "a b/ключ", "a%2fb/%2e/c", "%7e%25%2A//./..", "v1/**"]) expect(normalizeOperation(normalizeOperation(m))).toBe(normalizeOperation(m));
  });
});

describe("access control on normalised operations", () => {
  const acl = parseAccessControl({
    defaultAction: "allow",
    policies: [{ appId: "a", namespace: "default", operations: [{ name: "admin", httpVerb: ["*"], action: "deny" }, { name: "/caf%c3%a9/./x", action: "deny" }] }],
  }, "test.yaml")!;
  const a = { appId: "a", namespace: "default", trustDomain: "public" };

  test("rule names are normalised the same way", () => {
    expect(acl.policies[0]!.operations.map((o) => o.name)).toEqual(["/admin", "/caf%C3%A9/x"]);
    expect(decide(acl, a, normalizeOperation("café/x"), "GET").allowed).toBe(false);
  });

  test("an HTTP app is matched without regard to case, as daprd does; a gRPC app with it", () => {
    expect(decide(acl, a, "ADMIN", "GET", true).allowed).toBe(false);
    expect(decide(acl, a, "Admin/x", "POST", true).allowed).toBe(false);
    expect(decide(acl, a, "ADMIN", "GET", false).allowed).toBe(true);
  });

  test("a rule name that cannot be an operation is a configuration error with its place", () => {
    expect(() => parseAccessControl({ policies: [{ appId: "a", operations: [{ name: "/a?b" }] }] }, "c.yaml")).toThrow(/c\.yaml: spec\.accessControl\.policies\[0\]\.operations\[0\]\.name/);
  });
});

describe("normalizeQuery and normalizeVerb", () => {
  test("a query keeps what a URL parser leaves raw, escapes the rest and refuses control characters", () => {
    expect(normalizeQuery("a=1&b=%ZZ&c={x}|y")).toBe("a=1&b=%ZZ&c={x}|y");
    expect(normalizeQuery("a=b c&d=ключ#\"<>")).toBe("a=b%20c&d=%D0%BA%D0%BB%D1%8E%D1%87%23%22%3C%3E");
    for (const bad of ["a=1\r\nx: y", "a\u0000", "a\u007f"]) expect(() => normalizeQuery(bad), bad).toThrow(InvalidOperationError);
  });

  test("a verb is an HTTP token, upper-cased", () => {
    expect(normalizeVerb("patch")).toBe("PATCH");
    for (const bad of ["", "GET /x HTTP/1.1\r\n", "G T", "GET\n"]) expect(() => normalizeVerb(bad), bad).toThrow(InvalidOperationError);
  });
});
