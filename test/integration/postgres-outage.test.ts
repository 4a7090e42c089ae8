// PostgreSQL goes away mid-run (a TCP proxy between rapr and the server is cut) and comes back: state calls fail
// with ERR_STATE_* instead of hanging, outbound health reports it, the sidecar stays up, and it recovers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { missing, PG_URL } from "../support/backends.js";
import { waitFor } from "../support/ports.js";
import { dropTable, postgresResourcesDir, uniqueTable } from "../support/postgres.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { TcpProxy } from "../support/tcp-proxy.js";

const noPostgres = await missing("postgres");
const outageTest = test.skipIf(noPostgres);
const table = uniqueTable("outage");
let proxy: TcpProxy;
let sidecar: Sidecar;
let resources: string;

// A hung call fails the test with a clear message instead of running into the test timeout.
const CALL_BOUND_MS = 15_000;
const call = (path: string, init: RequestInit = {}) => sidecar.http(path, { ...init, signal: AbortSignal.timeout(CALL_BOUND_MS) });
const save = (key: string, value: unknown) =>
  call("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key, value }]), headers: { "content-type": "application/json" } });
const get = (key: string) => call(`/v1.0/state/statestore/${key}`);

async function expectStateError(res: Response, code: RegExp) {
  const body = (await res.json()) as { errorCode: string; message: string };
  expect(res.status).toBe(500);
  expect(body.errorCode).toMatch(code);
  expect(typeof body.message).toBe("string");
  expect(body.message).toContain("statestore");
}

beforeAll(async () => {
  if (noPostgres) return;
  const server = new URL(PG_URL);
  proxy = await TcpProxy.start({ host: server.hostname, port: Number(server.port || 5432) });
  const viaProxy = new URL(PG_URL);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  resources = postgresResourcesDir({
    table,
    connectionString: viaProxy.href,
    extra: { timeout: "2s", maxConns: "4" },
  });
  sidecar = await startSidecar({ args: ["--resources-path", resources] });
});

afterAll(async () => {
  if (noPostgres) return;
  await sidecar?.stop();
  await proxy?.close();
  rmSync(resources, { recursive: true, force: true });
  await dropTable(table);
}, 60_000);

outageTest("with the backend reachable, state calls work and outbound is healthy", async () => {
  expect((await save("k1", { n: 1 })).status).toBe(204);
  expect(await (await get("k1")).json()).toEqual({ n: 1 });
  expect((await call("/v1.0/healthz/outbound")).status).toBe(204);
  expect(proxy.connections).toBeGreaterThan(0);
}, 60_000);

outageTest("with the backend gone, calls fail with 500 ERR_STATE_*, outbound is 500, /healthz stays 204", async () => {
  await proxy.cut();
  // Every connection rapr held was reset; each call must come back with an error, not hang.
  for (let i = 0; i < 3; i++) {
    await expectStateError(await save(`down-${i}`, { i }), /^ERR_STATE_SAVE$/);
    await expectStateError(await get("k1"), /^ERR_STATE_GET$/);
  }
  const bulk = await call("/v1.0/state/statestore/bulk", { method: "POST", body: JSON.stringify({ keys: ["k1"] }) });
  await expectStateError(bulk, /^ERR_STATE_BULK_GET$/);
  const tx = await call("/v1.0/state/statestore/transaction", {
    method: "POST",
    body: JSON.stringify({ operations: [{ operation: "upsert", request: { key: "tx", value: 1 } }] }),
  });
  await expectStateError(tx, /^ERR_STATE_TRANSACTION$/);
  await expectStateError(await call("/v1.0/state/statestore/k1", { method: "DELETE" }), /^ERR_STATE_DELETE$/);

  const outbound = await call("/v1.0/healthz/outbound");
  expect(outbound.status).toBe(500);
  const report = (await outbound.json()) as { errorCode: string; message: string };
  expect(report.errorCode).toBe("ERR_OUTBOUND_HEALTH_NOT_READY");
  expect(report.message).toContain("statestore");

  expect((await call("/v1.0/healthz")).status).toBe(204);
  expect(sidecar.proc.exitCode).toBeNull();
}, 60_000);

outageTest("when the backend comes back on the same address, calls succeed again and outbound is healthy", async () => {
  await proxy.restore();
  await waitFor(async () => (await save("k2", { n: 2 })).status === 204, "a save to succeed after the backend is back", 20_000, 200);
  expect(await (await get("k1")).json()).toEqual({ n: 1 });
  expect(await (await get("k2")).json()).toEqual({ n: 2 });
  await waitFor(async () => (await call("/v1.0/healthz/outbound")).status === 204, "outbound health to recover", 20_000, 200);
  expect(sidecar.proc.exitCode).toBeNull();
}, 60_000);

outageTest("a second outage and recovery behaves the same", async () => {
  await proxy.cut();
  await expectStateError(await get("k1"), /^ERR_STATE_GET$/);
  expect((await call("/v1.0/healthz/outbound")).status).toBe(500);
  await proxy.restore();
  await waitFor(async () => (await get("k1")).status === 200, "reads to work again", 20_000, 200);
  await waitFor(async () => (await call("/v1.0/healthz/outbound")).status === 204, "outbound health to recover", 20_000, 200);
}, 60_000);

outageTest("when the backend stops answering (connections open, no bytes), calls fail after `timeout` and recover when it answers again", async () => {
  proxy.freeze();
  await expectStateError(await save("hang-1", { n: 1 }), /^ERR_STATE_SAVE$/);
  const got = await get("k1");
  const body = (await got.json()) as { errorCode: string; message: string };
  expect(got.status).toBe(500);
  expect(body.errorCode).toBe("ERR_STATE_GET");
  expect(body.message).toContain("did not answer within 2000ms");
  expect((await call("/v1.0/healthz/outbound")).status).toBe(500);
  expect((await call("/v1.0/healthz")).status).toBe(204);
  proxy.thaw();
  await waitFor(async () => (await get("k1")).status === 200, "reads to work again", 20_000, 200);
  expect((await save("k3", { n: 3 })).status).toBe(204);
  await waitFor(async () => (await call("/v1.0/healthz/outbound")).status === 204, "outbound health to recover", 20_000, 200);
  expect(sidecar.proc.exitCode).toBeNull();
}, 60_000);
