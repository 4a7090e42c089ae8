// Sidecar B restarts (killed, or stopped, then started again with the same settings) while sidecar A keeps
// running: A's calls to B must fail cleanly while B is away and work again once the new B is up, whichever
// side of the net_memif link is the memif server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { ealAvailability, MemifLink } from "./harness";

const availability = await ealAvailability();
if (!availability.ok) console.log(`[skip] DPDK sidecar restart tests: EAL cannot start here: ${availability.reason}`);

type Role = "server" | "client";

describe.skipIf(!availability.ok)("sidecar B restarts behind a net_memif link", () => {
  let app: ReturnType<typeof Bun.serve>;
  const started: Sidecar[] = [];

  beforeAll(async () => {
    app = Bun.serve({
      hostname: "127.0.0.1",
      port: await freePort(),
      fetch: async (req) =>
        new URL(req.url).pathname === "/dapr/subscribe" ? Response.json([]) : new Response(`got ${(await req.text()).length}`),
    });
  });

  afterAll(async () => {
    for (const s of started) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.stop();
    app?.stop(true);
  });

  const cases: { bRole: Role; signal: "SIGKILL" | "SIGTERM" }[] = [
    { bRole: "server", signal: "SIGKILL" },
    { bRole: "server", signal: "SIGTERM" },
    { bRole: "client", signal: "SIGKILL" },
    { bRole: "client", signal: "SIGTERM" },
  ];

  for (const { bRole, signal } of cases) {
    const aRole: Role = bRole === "server" ? "client" : "server";
    test(`B is the memif ${bRole}, ${signal}: A's calls fail while B is away and succeed after B restarts`, async () => {
      const link = new MemifLink(`restart-${bRole}-${signal.toLowerCase()}`);
      const registry = mkdtempSync(join(tmpdir(), "rapr-dpdk-restart-"));
      const env = { RAPR_REGISTRY_DIR: registry };
      const dpdk = (role: Role, ip: string) => [
        "--dataplane", "dpdk", "--dpdk-args", link.memifArgs(role).join(" "), "--dpdk-ip", ip, "--enable-mtls=false",
      ];
      const startB = async () => {
        const s = await startSidecar({ appId: "restart-b", env, args: ["--app-port", String(app.port), ...dpdk(bRole, "10.79.0.2")] });
        started.push(s);
        return s;
      };
      const startA = async () => {
        const s = await startSidecar({ appId: "restart-a", env, args: dpdk(aRole, "10.79.0.1") });
        started.push(s);
        return s;
      };
      const call = (a: Sidecar, body = "ping") => a.http("/v1.0/invoke/restart-b/method/echo", { method: "POST", body });
      const answered = async (a: Sidecar) => {
        const r = await call(a);
        return r.status === 200 ? r : undefined;
      };
      let a: Sidecar | undefined;
      let b: Sidecar | undefined;
      try {
        // A memif client's port only starts when its server listens, so the server side starts first.
        if (bRole === "server") {
          b = await startB();
          a = await startA();
        } else {
          a = await startA();
          b = await startB();
        }
        const first = await waitFor(() => answered(a!), "A→B before the restart", 20_000);
        expect(await first.text()).toBe("got 4");

        // Twice: B goes away (a call in flight), A's calls end in a clear error while it is away, a new B with the
        // same settings comes up and A's calls reach it.
        for (let round = 1; round <= 2; round++) {
          const inFlight = call(a, "x".repeat(256 * 1024)).then(
            async (r) => (r.status === 200 ? "200" : `${r.status} ${((await r.json()) as { errorCode: string }).errorCode}`),
            (err: Error) => `rejected: ${err.message}`,
          );
          b.proc.kill(signal);
          const bExit = await b.proc.exited;
          if (signal === "SIGTERM") expect(bExit).toBe(0); // the old B stops cleanly while A reconnects
          expect(["200", "500 ERR_DIRECT_INVOKE"]).toContain(await inFlight);
          const whileAway = await call(a);
          expect(whileAway.status).toBe(500);
          expect(((await whileAway.json()) as { errorCode: string }).errorCode).toBe("ERR_DIRECT_INVOKE");
          expect((await a.http("/v1.0/healthz")).status).toBe(204);

          const old = b;
          b = await startB();
          const again = await waitFor(() => answered(a!), `A→B after B restarted (round ${round})`, 30_000, 200).catch(async (err: Error) => {
            await b?.stop();
            await a?.stop();
            const tail = async (s: Sidecar) => (await s.output()).split("\n").filter((l) => !l.includes("subscriptions")).slice(-15).join("\n");
            throw new Error(`${err.message}\n--- A:\n${await tail(a!)}\n--- new B:\n${await tail(b!)}\n--- old B:\n${await tail(old)}`);
          });
          expect(await again.text()).toBe("got 4");
          // The new link carries more than one small call.
          for (let i = 0; i < 5; i++) expect((await call(a, "y".repeat(64 * 1024))).status).toBe(200);
        }
        expect(a.proc.exitCode).toBeNull();
      } finally {
        await b?.stop();
        const code = await a?.stop();
        await link.cleanup();
        rmSync(registry, { recursive: true, force: true });
        if (a && code !== 0 && code !== 143) console.log(`sidecar A exited with ${code}:\n${(await a.output()).slice(-1500)}`);
      }
    }, 90_000);
  }
});
