// Invoking non-Dapr endpoints through the compiled binary: an HTTPEndpoint resource by name (headers from values
// and from a secret store, resiliency under targets.apps.<name>), an http:// URL as the id, over HTTP with the
// Dapr SDK and over gRPC; an endpoint that does not answer; HTTPEndpoint resources rapr must refuse at start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from "@dapr/dapr";
import { componentYaml } from "../support/components.js";
import { freePort } from "../support/ports.js";
import { runRapr } from "../support/rapr-cli.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";

const scratch = mkdtempSync(join(tmpdir(), "rapr-http-endpoint-"));
let sidecar: Sidecar;
let service: ReturnType<typeof Bun.serve>;
/** HTTPS, with a certificate from a CA of the test's own, and asking for a client certificate from that CA. */
let secure: ReturnType<typeof Bun.serve>;
let deadPort: number;
/** Calls per path the service received, and the last request's headers. */
const calls = new Map<string, number>();
let lastHeaders: Record<string, string> = {};

const endpointYaml = (name: string, spec: string, extra = "") => `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: ${name}
${extra}spec:
${spec}
`;

beforeAll(async () => {
  service = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      calls.set(url.pathname, (calls.get(url.pathname) ?? 0) + 1);
      lastHeaders = Object.fromEntries(req.headers);
      // Fails twice, then answers: a retry policy carries the call over.
      if (url.pathname === "/api/flaky" && calls.get(url.pathname)! <= 2) return new Response("not yet", { status: 503 });
      if (url.pathname === "/api/missing") return new Response("no such thing", { status: 404 });
      return Response.json({ path: url.pathname, query: url.search, method: req.method, body: await req.text() });
    },
  });
  const ca = await loadOrCreateCa(join(scratch, "ca"));
  const serverTls = await issueLeaf(ca, { trustDomain: "test", namespace: "default", appId: "secure" });
  const clientTls = await issueLeaf(ca, { trustDomain: "test", namespace: "default", appId: "client" });
  secure = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: serverTls.cert, key: serverTls.key, ca: ca.pem, requestCert: true, rejectUnauthorized: true },
    fetch: () => new Response("over TLS"),
  });
  deadPort = await freePort();
  const dir = join(scratch, "resources");
  mkdirSync(dir);
  writeFileSync(join(dir, "secrets.json"), JSON.stringify({ "service-token": "t0ps3cret", "ca-pem": ca.pem, "client-cert": clientTls.cert, "client-key": clientTls.key }));
  writeFileSync(join(dir, "secrets.yaml"), componentYaml("files", "secretstores.local.file", { secretsFile: join(dir, "secrets.json") }));
  writeFileSync(join(dir, "service.yaml"), endpointYaml("billing", `  baseUrl: http://127.0.0.1:${service.port}/api/
  headers:
    - name: X-Tenant
      value: acme
    - name: Authorization
      secretKeyRef:
        name: service-token
        key: service-token`, "auth:\n  secretStore: files\n"));
  const tlsRef = (field: string, secret: string) => `    ${field}:\n      secretKeyRef:\n        name: ${secret}\n        key: ${secret}`;
  writeFileSync(join(dir, "secure.yaml"), endpointYaml("secure", `  baseUrl: https://127.0.0.1:${secure.port}
  clientTLS:
${tlsRef("rootCA", "ca-pem")}
${tlsRef("certificate", "client-cert")}
${tlsRef("privateKey", "client-key")}`, "auth:\n  secretStore: files\n"));
  writeFileSync(join(dir, "no-client-cert.yaml"), endpointYaml("no-client-cert", `  baseUrl: https://127.0.0.1:${secure.port}
  clientTLS:
${tlsRef("rootCA", "ca-pem")}`, "auth:\n  secretStore: files\n"));
  writeFileSync(join(dir, "untrusted.yaml"), endpointYaml("untrusted", `  baseUrl: https://127.0.0.1:${secure.port}`));
  writeFileSync(join(dir, "dead.yaml"), endpointYaml("dead", `  baseUrl: http://127.0.0.1:${deadPort}`));
  writeFileSync(join(dir, "elsewhere.yaml"), endpointYaml("scoped-away", `  baseUrl: http://127.0.0.1:${service.port}/api`, "scopes:\n  - some-other-app\n"));
  writeFileSync(join(dir, "resiliency.yaml"), `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: endpoint-policies
spec:
  policies:
    retries:
      quick:
        policy: constant
        duration: 20ms
        maxRetries: 3
  targets:
    apps:
      billing:
        retry: quick
`);
  sidecar = await startSidecar({ args: ["--resources-path", dir] });
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  service?.stop(true);
  secure?.stop(true);
  rmSync(scratch, { recursive: true, force: true });
});

describe("HTTPEndpoint by name", () => {
  test("DaprClient.invoker reaches it: base URL + method + query, the resource's headers (one from a secret) added", async () => {
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sidecar.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
    const res = (await client.invoker.invoke("billing", "invoices?year=2026", HttpMethod.POST, { amount: 3 })) as Record<string, unknown>;
    expect(res).toEqual({ path: "/api/invoices", query: "?year=2026", method: "POST", body: '{"amount":3}' });
    expect(lastHeaders["x-tenant"]).toBe("acme");
    expect(lastHeaders.authorization).toBe("t0ps3cret");
    expect(lastHeaders.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("the endpoint's own status and body come back as they are", async () => {
    const res = await sidecar.http("/v1.0/invoke/billing/method/missing");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no such thing");
  });

  test("its resiliency policy (targets.apps.<name>) retries a 503 until the endpoint answers", async () => {
    const res = await sidecar.http("/v1.0/invoke/billing/method/flaky", { method: "PUT", body: "x" });
    expect(res.status).toBe(200);
    expect(calls.get("/api/flaky")).toBe(3);
  });

  test("over gRPC InvokeService too", async () => {
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sidecar.grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC });
    const res = (await client.invoker.invoke("billing", "ledger", HttpMethod.POST, { n: 1 })) as Record<string, unknown>;
    expect(res.path).toBe("/api/ledger");
    expect(res.body).toBe('{"n":1}');
    await client.stop();
  });

  test("an endpoint that does not answer → 500 ERR_DIRECT_INVOKE naming it", async () => {
    const res = await sidecar.http("/v1.0/invoke/dead/method/x");
    expect(res.status).toBe(500);
    const err = (await res.json()) as { errorCode: string; message: string };
    expect(err.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(err.message).toContain("id: dead");
  });

  test("an HTTPEndpoint scoped to other apps is not this sidecar's: the name is looked up as an app id", async () => {
    const res = await sidecar.http("/v1.0/invoke/scoped-away/method/x");
    expect(res.status).toBe(500);
    expect(((await res.json()) as { message: string }).message).toContain("couldn't find service: scoped-away");
  });
});

describe("metadata", () => {
  test("GET /v1.0/metadata lists this sidecar's HTTPEndpoints (not the one scoped away)", async () => {
    const meta = (await (await sidecar.http("/v1.0/metadata")).json()) as { httpEndpoints: { name: string }[] };
    expect(meta.httpEndpoints.map((e) => e.name).sort()).toEqual(["billing", "dead", "no-client-cert", "secure", "untrusted"]);
  });
});

describe("HTTPEndpoint over TLS", () => {
  test("clientTLS from the secret store: the endpoint's CA is trusted and the client certificate presented", async () => {
    const res = await sidecar.http("/v1.0/invoke/secure/method/x");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("over TLS");
  });
  test("without clientTLS (unknown CA), or with the CA but no client certificate, the same server is refused", async () => {
    for (const name of ["untrusted", "no-client-cert"]) {
      const res = await sidecar.http(`/v1.0/invoke/${name}/method/x`);
      expect(res.status).toBe(500);
      expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_DIRECT_INVOKE");
    }
  });
});

describe("an http(s) URL as the id", () => {
  test("plain and percent-encoded, with the caller's query", async () => {
    const base = `http://127.0.0.1:${service.port}`;
    for (const id of [base, encodeURIComponent(base)]) {
      const res = await sidecar.http(`/v1.0/invoke/${id}/method/api/direct?x=1`, { method: "POST", body: "hi" });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ path: "/api/direct", query: "?x=1", method: "POST", body: "hi" });
    }
    expect(lastHeaders["x-tenant"]).toBeUndefined(); // a bare URL carries no resource's headers
  });
});

describe("HTTPEndpoint resources rapr refuses at start, naming the file and the field", () => {
  const refused = async (yaml: string) => {
    const dir = mkdtempSync(join(scratch, "bad-"));
    writeFileSync(join(dir, "endpoint.yaml"), yaml);
    const r = await runRapr(["run", "--app-id", "badendpoint", "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--metrics-port", "0", "--data-dir", join(dir, "data"), "--resources-path", dir, "--log-level", "error"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(join(dir, "endpoint.yaml"));
    return r.stderr;
  };
  test("no baseUrl, or not an http(s) URL", async () => {
    expect(await refused(endpointYaml("nourl", "  headers: []"))).toContain('HTTPEndpoint "nourl": spec.baseUrl must be an http:// or https:// URL');
    expect(await refused(endpointYaml("ftp", "  baseUrl: ftp://example.invalid"))).toContain("spec.baseUrl must be an http:// or https:// URL");
  });
  test("a header from a secret store that is not loaded", async () => {
    const stderr = await refused(endpointYaml("nostore", `  baseUrl: http://127.0.0.1:1
  headers:
    - name: Authorization
      secretKeyRef:
        name: token`, "auth:\n  secretStore: nowhere\n"));
    expect(stderr).toContain('HTTPEndpoint "nostore": header "Authorization": secretKeyRef needs secret store "nowhere"');
  });
});
