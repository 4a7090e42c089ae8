// Zero configuration on one machine: two `rapr run` apps started with nothing but an app id and ports (no
// component files, no CA or registry flags) find each other by app id, over mTLS with the per-user local CA.
// HOME and XDG_RUNTIME_DIR point into a temporary directory so the test owns the CA and the registry.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { RAPR_BIN, startSidecar, type Sidecar } from "../support/sidecar.js";
import { FIXTURES, uid } from "../invoke/support.js";

const home = mkdtempSync(join(tmpdir(), "rapr-zero-"));
const env = { HOME: home, XDG_RUNTIME_DIR: home, RAPR_REGISTRY_DIR: "" };
const started: Sidecar[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  rmSync(home, { recursive: true, force: true });
});

test("two apps started with only an app id find each other; registry entries go away on shutdown", async () => {
  const calleeId = `zcallee-${uid()}`;
  const appPort = await freePort();
  const callee = await startSidecar({ appId: calleeId, env, args: ["--app-port", String(appPort)], appCommand: [process.execPath, join(FIXTURES, "invoke-echo-app.ts")] });
  started.push(callee);
  const caller = await startSidecar({ appId: `zcaller-${uid()}`, env });
  started.push(caller);
  const body = await waitFor(async () => {
    const r = await caller.http(`/v1.0/invoke/${calleeId}/method/hello`, { method: "POST", body: "zero config" });
    return r.status === 200 ? ((await r.json()) as any) : undefined;
  }, "the caller to reach the callee by app id", 15_000, 100);
  expect(body.body).toBe("zero config");
  expect(body.headers["dapr-caller-app-id"]).toBe(caller.appId);
  expect(existsSync(join(home, ".rapr", "ca", "ca.crt"))).toBe(true);
  const registry = join(home, "rapr", "apps", "default");
  expect(readdirSync(registry).some((f) => f.startsWith(`${calleeId}.`))).toBe(true);
  await callee.stop();
  expect(readdirSync(registry).some((f) => f.startsWith(`${calleeId}.`))).toBe(false);
}, 40_000);

test("--enable-mtls=false: the same invocation over plain TCP between the sidecars", async () => {
  const calleeId = `plain-${uid()}`;
  const appPort = await freePort();
  const args = ["--enable-mtls=false", "--enable-metrics=false"];
  const callee = await startSidecar({ appId: calleeId, env, args: [...args, "--app-port", String(appPort)], appCommand: [process.execPath, join(FIXTURES, "invoke-echo-app.ts")] });
  started.push(callee);
  const caller = await startSidecar({ appId: `plaincaller-${uid()}`, env, args });
  started.push(caller);
  const body = await waitFor(async () => {
    const r = await caller.http(`/v1.0/invoke/${calleeId}/method/plain`, { method: "POST", body: "no tls" });
    return r.status === 200 ? ((await r.json()) as any) : undefined;
  }, "the caller to reach the callee over plain TCP", 15_000, 100);
  expect(body.body).toBe("no tls");
  expect(body.headers["dapr-caller-app-id"]).toBe(caller.appId);
  const entry = readdirSync(join(home, "rapr", "apps", "default")).find((f) => f.startsWith(`${calleeId}.`))!;
  expect(readFileSync(join(home, "rapr", "apps", "default", entry), "utf8")).toContain('"address":"tcp://');
}, 40_000);

test("a CA directory that cannot be created stops start-up with a message naming the way out", async () => {
  const proc = Bun.spawn([RAPR_BIN, "run", "--app-id", `badca-${uid()}`, "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--enable-metrics=false", "--data-dir", join(home, "badca-data"), "--mtls-ca-dir", "/proc/rapr-no-such-dir"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  expect(code).not.toBe(0);
  expect(err).toContain("--mtls-ca-dir");
  expect(err).toContain("--enable-mtls=false");
}, 20_000);

test("given certificates (--mtls-cert-file, --mtls-key-file, --mtls-ca-file) instead of the local CA", async () => {
  const ca = await loadOrCreateCa(join(home, "given-ca"));
  const dir = join(home, "given");
  mkdirSync(dir, { recursive: true });
  const ids = { callee: `given-callee-${uid()}`, caller: `given-caller-${uid()}` };
  const files = async (appId: string) => {
    const m = await issueLeaf(ca, { trustDomain: "public", namespace: "default", appId });
    for (const [k, v] of Object.entries({ crt: m.cert, key: m.key, ca: m.ca })) writeFileSync(join(dir, `${appId}.${k}`), v);
    return ["--mtls-cert-file", join(dir, `${appId}.crt`), "--mtls-key-file", join(dir, `${appId}.key`), "--mtls-ca-file", join(dir, `${appId}.ca`), "--enable-metrics=false"];
  };
  const appPort = await freePort();
  const callee = await startSidecar({ appId: ids.callee, env, args: [...(await files(ids.callee)), "--app-port", String(appPort)], appCommand: [process.execPath, join(FIXTURES, "invoke-echo-app.ts")] });
  started.push(callee);
  const caller = await startSidecar({ appId: ids.caller, env, args: await files(ids.caller) });
  started.push(caller);
  const body = await waitFor(async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.callee}/method/given`);
    return r.status === 200 ? ((await r.json()) as any) : undefined;
  }, "invocation with given certificates", 15_000, 100);
  expect(body.headers["dapr-caller-app-id"]).toBe(ids.caller);
}, 40_000);
