// Access control cannot be side-stepped, through the compiled rapr: a method spelled differently (percent-encoded,
// dot segments, duplicate slashes, other case for an HTTP app) is matched in the one normalised form the app then
// receives, over HTTP and gRPC (with seeded random spellings); without mTLS a caller's claimed app id is not
// trusted; an OPTIONS that is no CORS preflight is an invocation like any other.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { HTTPExtension_Verb } from "../../src/gen/dapr/proto/common/v1/common_pb.js";
import { normalizeOperation } from "../../src/security/operation.js";
import { MtlsTransport } from "../../src/transport/mtls/index.js";
import { fuzzRandom } from "../support/fuzz.js";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";

const TOKEN = "acl-bypass-token";
const ids = { secA: `seca-${uid()}`, secB: `secb-${uid()}`, secC: `secc-${uid()}` };
let cluster: Cluster;
let secA: Sidecar;
let secB: Sidecar;
/** A second sidecar for app secA, with mTLS off: it can only claim to be secA. */
let plainA: Sidecar;

const acl = (policy: string) => `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: acl
spec:
  accessControl:
${policy}`;

beforeAll(async () => {
  cluster = newCluster("acl-bypass");
  const conf = cluster.dir("config", {
    // secB: secA may call anything but /admin.
    "deny-admin.yaml": acl(`    defaultAction: deny
    policies:
      - appId: ${ids.secA}
        defaultAction: allow
        namespace: default
        operations:
          - name: /admin
            httpVerb: ["*"]
            action: deny
`),
    // secC (mTLS off): only secA may call, and only through an identity that can be verified.
    "allow-seca.yaml": acl(`    defaultAction: deny
    policies:
      - appId: ${ids.secA}
        defaultAction: allow
        namespace: default
`),
  });
  [secA, secB, , plainA] = await Promise.all([
    cluster.start({ appId: ids.secA }),
    cluster.start({ appId: ids.secB, app: "invoke-echo-app.ts", args: ["--config", `${conf}/deny-admin.yaml`], env: { DAPR_API_TOKEN: TOKEN } }),
    cluster.start({ appId: ids.secC, app: "invoke-echo-app.ts", args: ["--config", `${conf}/allow-seca.yaml`, "--enable-mtls=false"] }),
    cluster.start({ appId: ids.secA, args: ["--enable-mtls=false"] }),
  ]);
  await waitForApp(secA, ids.secB, "ready");
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

type Echo = { method: string; path: string };

async function viaHttp(path: string, verb = "POST"): Promise<{ status: number; body: any }> {
  const r = await secA.http(`/v1.0/invoke/${ids.secB}/method/${path}`, { method: verb, body: verb === "GET" ? undefined : "x" });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) };
  } catch {
    return { status: r.status, body: text };
  }
}

/** A request line sent as is: fetch would resolve dot segments before sending. */
function rawHttp(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (d) => (out += d.toString()));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
    socket.write(`POST ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx`);
  });
}

/** gRPC's OK, which Connect's Code has no member for. */
const OK = 0 as Code;
const grpcClient = (s: Sidecar) => createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${s.grpcPort}` }));

async function viaGrpc(method: string, querystring = ""): Promise<{ code: Code; echo?: Echo & { query: string }; message?: string }> {
  try {
    const res = await grpcClient(secA).invokeService({
      id: ids.secB,
      message: { method, data: create(AnySchema, { value: new TextEncoder().encode("x") }), httpExtension: { verb: HTTPExtension_Verb.POST, querystring } },
    });
    return { code: OK, echo: JSON.parse(new TextDecoder().decode(res.data!.value)) };
  } catch (err) {
    const ce = ConnectError.from(err);
    return { code: ce.code, message: ce.rawMessage };
  }
}

describe("item 1: access control matches the normalised method, and the app receives what was matched", () => {
  test("HTTP: encoded, other-case, dot-segment and encoded-slash spellings of a denied method are denied", async () => {
    for (const m of ["admin", "%61dmin", "adm%69n", "%41DMIN", "ADMIN", "Admin/x", "x/%2e%2e/admin", "a%2F..%2Fadmin", "admin/", ".%2Fadmin", "%2Fadmin"]) {
      const r = await viaHttp(m);
      expect({ m, status: r.status, code: r.body?.errorCode }).toEqual({ m, status: 403, code: "ERR_PERMISSION_DENIED" });
    }
  });

  test("HTTP: dot segments sent as is in the request line are resolved before matching", async () => {
    for (const target of [`/v1.0/invoke/${ids.secB}/method/x/../admin`, `/v1.0/invoke/${ids.secB}/method/./admin`, `/v1.0/invoke/${ids.secB}/method//admin`]) {
      const answer = await rawHttp(secA.httpPort, target);
      expect({ target, status: answer.split(" ")[1] }).toEqual({ target, status: "403" });
    }
  });

  test("HTTP: the dapr-app-id header form is matched the same way", async () => {
    const r = await secA.http("/%61dmin", { method: "POST", headers: { "dapr-app-id": ids.secB } });
    expect(r.status).toBe(403);
  });

  test("HTTP: an allowed method reaches the app in its normalised form", async () => {
    const r = await viaHttp("%6Fpen/%7eitem/./x//y%2fz/caf%c3%a9");
    expect(r.status).toBe(200);
    expect((r.body as Echo).path).toBe("/open/~item/x/y/z/caf%C3%A9");
  });

  test("HTTP: a method that cannot be normalised is refused as the caller's mistake", async () => {
    for (const m of ["ad%ZZmin", "admin%3Fx", "a%00b", "a%0d%0aX-Injected:%201"]) {
      const r = await viaHttp(m);
      expect({ m, status: r.status, code: r.body?.errorCode }).toEqual({ m, status: 400, code: "ERR_MALFORMED_REQUEST" });
    }
  });

  test("gRPC InvokeService: x/../admin, ./admin, %61dmin and other spellings are denied", async () => {
    for (const m of ["admin", "x/../admin", "./admin", "%61dmin", "/ADMIN", "//x/../../admin/"]) {
      expect({ m, code: Code[(await viaGrpc(m)).code] }).toEqual({ m, code: Code[Code.PermissionDenied] });
    }
  });

  test("gRPC InvokeService: an allowed method reaches the app normalised; ?, # and control characters are refused", async () => {
    const ok = await viaGrpc("x/../open/a b");
    expect(ok.code).toBe(OK);
    expect(ok.echo!.path).toBe("/open/a%20b");
    for (const m of ["open?x=1", "open#x", "open\r\nx-injected: 1", "open%ZZ"]) {
      expect({ m, code: Code[(await viaGrpc(m)).code] }).toEqual({ m, code: Code[Code.InvalidArgument] });
    }
  });

  test("gRPC InvokeService: a querystring goes to the app escaped as a URL would be; one with a line break is refused", async () => {
    const ok = await viaGrpc("open", "a=b c&d={x}");
    expect(ok.code).toBe(OK);
    expect(ok.echo!.query).toBe("a=b%20c&d={x}");
    expect(Code[(await viaGrpc("open", "a=1 HTTP/1.1\r\nx-injected: 1\r\n\r\nGET /admin")).code]).toBe(Code[Code.InvalidArgument]);
  });

  const { seed, rand, pick } = fuzzRandom(20261207);
  /** A random spelling of `path`: characters percent-encoded (either hex case) or case-flipped, and dot segments,
   * duplicate and encoded slashes around its segments. Over HTTP a ".." above the method would climb out of
   * /v1.0/invoke/… in the client already, so "../" beyond the root is tried over gRPC only (`climb`), and the
   * path the app should get over HTTP is that of the URL the client sends (`sentOverHttp`). */
  function spelling(path: string, flipCase: boolean): string {
    const chars = [...path].map((c) => {
      const r = rand();
      if (c === "/") return pick(["/", "/", "//", "/./", "/x/../", "/%2e/", "/x/%2E%2e/", "/y%2F%2E%2E/", "%2F", "%2f"]);
      if (r < 0.35) return `%${c.charCodeAt(0).toString(16)}`[rand() < 0.5 ? "toUpperCase" : "toLowerCase"]();
      if (flipCase && r < 0.6) return c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return c;
    });
    return pick(["", "/", "./", "x/../", "%2e/", "a/b/../../"]) + chars.join("") + pick(["", "", "/", "/.", "//"]);
  }
  const sentOverHttp = (m: string) => {
    const prefix = `/v1.0/invoke/${ids.secB}/method/`;
    const path = new URL(`http://127.0.0.1${prefix}${m}`).pathname;
    return path.startsWith(prefix) ? path.slice(prefix.length) : `(climbed out: ${path})`;
  };
  const climb = (m: string) => pick(["", "../", "%2e%2e/", "../../", "a%2fb/%2E%2E/%2e%2e/"]) + m;
  const CASES = 60;

  test(`${CASES} random spellings of /admin/… (seed ${seed}) over HTTP and gRPC: every one denied`, async () => {
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const m = spelling(pick(["admin", "admin/users", "admin/x/y"]), true);
      const h = await viaHttp(m, pick(["GET", "POST", "PUT", "DELETE"]));
      if (h.status !== 403) failures.push(`#${i} HTTP ${m}: ${h.status} ${JSON.stringify(h.body).slice(0, 120)}`);
      const g = await viaGrpc(climb(m));
      if (g.code !== Code.PermissionDenied) failures.push(`#${i} gRPC ${m}: ${Code[g.code]} ${g.message ?? g.echo?.path}`);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  test(`${CASES} random spellings of allowed methods (seed ${seed}) over HTTP and gRPC: the app gets the normalised path`, async () => {
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const m = spelling(pick(["open", "open/items/42", "a-b_c~d/e.f"]), false);
      const wantHttp = `/${normalizeOperation(sentOverHttp(m))}`;
      const h = await viaHttp(m);
      if (h.status !== 200 || (h.body as Echo).path !== wantHttp) failures.push(`#${i} HTTP ${m}: ${h.status} ${(h.body as Echo)?.path} (want ${wantHttp})`);
      const want = `/${normalizeOperation(m)}`;
      const g = await viaGrpc(climb(m));
      if (g.code !== OK || g.echo?.path !== want) failures.push(`#${i} gRPC ${m}: ${Code[g.code]} ${g.echo?.path ?? g.message} (want ${want})`);
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

describe("item 3: without mTLS a caller's claimed app id is not trusted", () => {
  function transportAddress(appId: string): string {
    const dir = join(cluster.registryDir, "default");
    const entry = readdirSync(dir).find((f) => f.startsWith(`${appId}.`) && f.endsWith(".json"));
    if (!entry) throw new Error(`no registry entry for ${appId} in ${dir}`);
    return (JSON.parse(readFileSync(join(dir, entry), "utf8")) as { address: string }).address;
  }

  /** An invocation frame sent to secC's transport port by a plain TCP client, not a sidecar. */
  async function rawInvoke(headers: Record<string, string>): Promise<{ status: number; body: { errorCode: string; message: string } }> {
    const raw = new MtlsTransport({ name: "raw-test-client" });
    try {
      const res = await raw.request(transportAddress(ids.secC), {
        kind: "invoke",
        path: "open",
        headers: { "rapr-target-app": ids.secC, "rapr-target-ns": "default", "rapr-verb": "GET", "rapr-query": "", ...headers },
        body: new Uint8Array(),
      });
      return { status: res.status, body: JSON.parse(new TextDecoder().decode(res.body)) };
    } finally {
      await raw.close();
    }
  }

  test("a raw client on the transport port claiming to be secA falls to the default action (deny)", async () => {
    const r = await rawInvoke({ "rapr-caller-app": ids.secA, "rapr-caller-ns": "default" });
    expect(r.status).toBe(403);
    expect(r.body.errorCode).toBe("ERR_PERMISSION_DENIED");
    expect(r.body.message).toContain("unknown caller");
  });

  test("a verb that is no HTTP method is refused before it could reach the app's request line", async () => {
    const r = await rawInvoke({ "rapr-verb": "GET /admin HTTP/1.1\r\nx-injected: 1\r\n\r\nGET" });
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe("ERR_MALFORMED_REQUEST");
  });

  test("a sidecar without mTLS is an unknown caller too, even with the app id the policy allows", async () => {
    const r = await plainA.http(`/v1.0/invoke/${ids.secC}/method/open`);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { errorCode: string }).errorCode).toBe("ERR_PERMISSION_DENIED");
  });

  test("a caller's own dapr-caller-app-id header never reaches the app", async () => {
    const r = await viaHttpWithHeaders({ "dapr-caller-app-id": "forged", "dapr-callee-app-id": "forged", "dapr-caller-namespace": "forged" });
    expect(r.headers["dapr-caller-app-id"]).toBe(ids.secA);
    expect(r.headers["dapr-callee-app-id"]).toBe(ids.secB);
    expect(r.headers["dapr-caller-namespace"]).toBeUndefined();
  });

  test("a sidecar started with --enable-mtls=false warns that callers cannot be verified", async () => {
    const s = await cluster.start({ appId: `warned-${uid()}`, args: ["--enable-mtls=false"] });
    await s.stop();
    expect(await s.output()).toContain("mTLS is off (--enable-mtls=false)");
  });
});

async function viaHttpWithHeaders(headers: Record<string, string>): Promise<{ headers: Record<string, string> }> {
  const r = await secA.http(`/v1.0/invoke/${ids.secB}/method/open`, { headers });
  expect(r.status).toBe(200);
  return (await r.json()) as { headers: Record<string, string> };
}

describe("item 7: only a real CORS preflight is answered by the sidecar", () => {
  const options = (s: Sidecar, port: number, headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${port}/v1.0/invoke/${s.appId}/method/options-target`, { method: "OPTIONS", headers });

  test("HTTP: OPTIONS without Origin goes through the token check and on to the app", async () => {
    expect((await options(secB, secB.httpPort, {})).status).toBe(401);
    const r = await options(secB, secB.httpPort, { "dapr-api-token": TOKEN });
    expect(r.status).toBe(200);
    expect(((await r.json()) as Echo).method).toBe("OPTIONS");
  });

  test("HTTP: OPTIONS with Origin but no Access-Control-Request-Method is no preflight either", async () => {
    expect((await options(secB, secB.httpPort, { origin: "http://example.test" })).status).toBe(401);
    const r = await options(secB, secB.httpPort, { origin: "http://example.test", "dapr-api-token": TOKEN });
    expect(((await r.json()) as Echo).method).toBe("OPTIONS");
  });

  test("HTTP: a real preflight is answered by the sidecar, without a token", async () => {
    const r = await options(secB, secB.httpPort, { origin: "http://example.test", "access-control-request-method": "POST" });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
  });

  test("gRPC/Connect port: only a real preflight gets the 204 and CORS method list", async () => {
    const url = `http://127.0.0.1:${secB.grpcPort}/dapr.proto.runtime.v1.Dapr/InvokeService`;
    const half = await fetch(url, { method: "OPTIONS", headers: { origin: "http://example.test" } });
    await half.arrayBuffer();
    expect(half.status).not.toBe(204);
    expect(half.headers.get("access-control-allow-methods")).toBeNull();
    const real = await fetch(url, { method: "OPTIONS", headers: { origin: "http://example.test", "access-control-request-method": "POST" } });
    expect(real.status).toBe(204);
    expect(real.headers.get("access-control-allow-methods")).toContain("POST");
  });
});
