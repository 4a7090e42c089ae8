// Two compiled rapr sidecars carry service invocations over the DPDK data plane (net_memif: shared memory
// between the two processes), app A → sidecar A → DPDK → sidecar B → app B, with payloads up to 1 MB.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { ealAvailability, MemifLink } from "./harness";

const availability = await ealAvailability();
if (!availability.ok) console.log(`[skip] DPDK invocation tests: EAL cannot start here: ${availability.reason}`);
const dpdkTest = test.skipIf(!availability.ok);

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!availability.ok)("service invocation between two sidecars over net_memif", () => {
  let link: MemifLink;
  let registry: string;
  let app: ReturnType<typeof Bun.serve>;
  let a: Sidecar;
  let b: Sidecar;

  beforeAll(async () => {
    link = new MemifLink("invoke");
    registry = mkdtempSync(join(tmpdir(), "rapr-dpdk-registry-"));
    // App B answers with the SHA-256 of what it received, so the test can check every byte crossed intact.
    app = Bun.serve({
      hostname: "127.0.0.1",
      port: await freePort(),
      maxRequestBodySize: 8 * 1024 * 1024,
      fetch: async (req) => new Response(sha256(new Uint8Array(await req.arrayBuffer()))),
    });
    const dpdk = (role: "server" | "client", ip: string) => [
      "--dataplane", "dpdk", "--dpdk-args", link.memifArgs(role).join(" "), "--dpdk-ip", ip, "--enable-mtls=false",
    ];
    const env = { RAPR_REGISTRY_DIR: registry };
    b = await startSidecar({ appId: "dpdk-b", env, args: ["--app-port", String(app.port), ...dpdk("server", "10.78.0.2")] });
    a = await startSidecar({ appId: "dpdk-a", env, args: dpdk("client", "10.78.0.1") });
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    app?.stop(true);
    await link?.cleanup();
    rmSync(registry, { recursive: true, force: true });
  });

  dpdkTest("both sidecars chose the DPDK data plane and a call crosses it", async () => {
    const dir = join(registry, "default");
    const addresses = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")).address as string);
    expect(addresses.sort()).toEqual(["dpdk://10.78.0.1:47100", "dpdk://10.78.0.2:47100"]);
    const res = await a.http("/v1.0/invoke/dpdk-b/method/echo", { method: "POST", body: "ping" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(sha256(new TextEncoder().encode("ping")));
  });

  dpdkTest("64 B to 1 MB bodies arrive intact", async () => {
    for (const size of [64, 1024, 16 * 1024, 256 * 1024, 1024 * 1024]) {
      const body = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const payload = new Uint8Array(size);
      for (let off = 0; off < size; off += body.length) payload.set(body.subarray(0, Math.min(body.length, size - off)), off);
      const res = await a.http("/v1.0/invoke/dpdk-b/method/echo", { method: "POST", body: payload });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(sha256(payload));
    }
  }, 60_000);

  dpdkTest("when sidecar B is killed mid-transfer, A answers with an error and stays healthy", async () => {
    const big = new Uint8Array(1024 * 1024);
    // A rejection means sidecar A dropped the connection (it once died of SIGSEGV here): say why in the failure.
    const inFlight = Array.from({ length: 4 }, () =>
      a.http("/v1.0/invoke/dpdk-b/method/echo", { method: "POST", body: big }).then((r) => r.status, (err: Error) => `rejected: ${err.message}`),
    );
    b.proc.kill("SIGKILL");
    const outcomes = await Promise.all(inFlight);
    expect(outcomes.filter((o) => o !== 200 && o !== 500)).toEqual([]);
    const after = await waitFor(async () => {
      const r = await a.http("/v1.0/invoke/dpdk-b/method/echo", { method: "POST", body: "x" });
      return r.status >= 500 ? r : undefined;
    }, "a clear error from sidecar A for the dead target", 30_000);
    expect(((await after.json()) as { errorCode: string }).errorCode).toBe("ERR_DIRECT_INVOKE");
    expect((await a.http("/v1.0/healthz")).status).toBe(204);
  }, 60_000);
});

test("without the DPDK shim, --dataplane dpdk falls back to the kernel path with one log line and still serves", async () => {
  const registry = mkdtempSync(join(tmpdir(), "rapr-dpdk-fallback-"));
  const sidecar = await startSidecar({
    appId: "dpdk-fallback",
    env: { RAPR_REGISTRY_DIR: registry, RAPR_DPDK_SHIM: join(registry, "missing.so") },
    args: ["--dataplane", "dpdk", "--dpdk-ip", "10.78.0.9", "--log-level", "info"],
  });
  try {
    const dir = join(registry, "default");
    const [entry] = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
    expect(entry.address).toStartWith("mtls://");
    expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
  } finally {
    await sidecar.stop();
    const log = await sidecar.output();
    expect(log.match(/data plane: dpdk unavailable \(.*librapr_dpdk.*\); using the kernel path/g)?.length).toBe(1);
    rmSync(registry, { recursive: true, force: true });
  }
});
