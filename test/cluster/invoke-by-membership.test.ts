// Service invocation across a cluster: with --cluster on and no nameresolution component, sidecar A finds
// app-b's sidecar through B's member metadata (invokeAddress). The two sidecars use separate same-host
// registries, so only membership can tell A where app-b is.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledRapr } from "./compiled-rapr.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-cluster-invoke-"));
const sidecars: Sidecar[] = [];
const app = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => new Response(`app-b answers ${new URL(req.url).pathname}`) });

afterAll(async () => {
  for (const s of sidecars) await s.stop().catch(() => {});
  app.stop(true);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

test("a sidecar invokes an app on another cluster member by app id", async () => {
  const { bin } = await compiledRapr();
  const clusterPortA = await freePort();
  const common = (side: string) => ({
    bin,
    cwd: dir,
    env: { RAPR_REGISTRY_DIR: join(dir, `registry-${side}`) },
  });
  const clusterArgs = ["--enable-metrics=false", "--mtls-ca-dir", join(dir, "ca"), "--cluster", "inv", "--cluster-secret", "inv-test-secret-52e9a1b07c", "--cluster-dht=false", "--cluster-host", "127.0.0.1"];
  const a = await startSidecar({ ...common("a"), appId: "app-a", args: [...clusterArgs, "--cluster-port", String(clusterPortA)] });
  sidecars.push(a);
  const b = await startSidecar({
    ...common("b"),
    appId: "app-b",
    args: [...clusterArgs, "--cluster-peers", `127.0.0.1:${clusterPortA}`, "--app-port", String(app.port)],
  });
  sidecars.push(b);

  await waitFor(async () => {
    const body = (await (await a.http("/v1.0-alpha1/cluster/members")).json()) as { members: Array<{ state: string; metadata: Record<string, string> }> };
    return body.members.some((m) => m.state === "alive" && m.metadata.appId === "app-b" && m.metadata.invokeAddress);
  }, "A to learn app-b's invocation address from membership", 30_000, 100);

  const res = await a.http("/v1.0/invoke/app-b/method/hello");
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("app-b answers /hello");
}, 120_000);
