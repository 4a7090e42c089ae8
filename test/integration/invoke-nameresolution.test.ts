// Name resolution as a component: nameresolution.static from a Component file, and from a Configuration's
// spec.nameResolution, used by a caller that cannot see the callee in the same-host registry.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";
import { componentYaml } from "../support/components.js";

let cluster: Cluster;
let callee: Sidecar;
let address: string;
const calleeId = `static-${uid()}`;

beforeAll(async () => {
  cluster = newCluster("invoke-nr");
  callee = await cluster.start({ appId: calleeId, app: "invoke-echo-app.ts" });
  await waitForApp(callee, calleeId, "ready");
  const nsDir = join(cluster.registryDir, "default");
  const entry = readdirSync(nsDir).find((f) => f.startsWith(`${calleeId}.`))!;
  address = JSON.parse(readFileSync(join(nsDir, entry), "utf8")).address;
}, 30_000);

afterAll(async () => {
  await cluster?.stopAll();
});

/** A caller whose same-host registry is empty, so only the configured resolver can find the callee. */
async function isolatedCaller(args: string[]): Promise<Sidecar> {
  return cluster.start({ appId: `nrcaller-${uid()}`, args, env: { RAPR_REGISTRY_DIR: join(cluster.root, `empty-${uid()}`) } });
}

test("a nameresolution.static Component from --resources-path", async () => {
  const dir = cluster.dir(`static-${uid()}`, {
    "nr.yaml": componentYaml("fixed", "nameresolution.static", { apps: `${calleeId}=${address}` }),
  });
  const caller = await isolatedCaller(["--resources-path", dir]);
  const r = await caller.http(`/v1.0/invoke/${calleeId}/method/via-static`);
  expect(r.status).toBe(200);
  expect(((await r.json()) as any).path).toBe("/via-static");
  const unknown = await caller.http(`/v1.0/invoke/other-${uid()}/method/x`);
  expect(((await unknown.json()) as any).errorCode).toBe("ERR_DIRECT_INVOKE");
}, 20_000);

test("Configuration spec.nameResolution (component: static)", async () => {
  const dir = cluster.dir(`conf-${uid()}`, {
    "config.yaml": `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: nr
spec:
  nameResolution:
    component: static
    configuration:
      apps: "${calleeId}=${address}"
`,
  });
  const caller = await isolatedCaller(["--config", join(dir, "config.yaml")]);
  const r = await caller.http(`/v1.0/invoke/${calleeId}/method/via-config`);
  expect(r.status).toBe(200);
  expect(((await r.json()) as any).path).toBe("/via-config");
}, 20_000);

test("two sidecars for one app id (scaled out) share the calls", async () => {
  const id = `scaled-${uid()}`;
  const [one, two] = await Promise.all([cluster.start({ appId: id, app: "invoke-echo-app.ts" }), cluster.start({ appId: id, app: "invoke-echo-app.ts" })]);
  await waitForApp(one, id, "ready");
  await waitForApp(two, id, "ready");
  const caller = await cluster.start({ appId: `rr-${uid()}` });
  const pids = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const r = await caller.http(`/v1.0/invoke/${id}/method/who`);
    expect(r.status).toBe(200);
    pids.add(((await r.json()) as any).pid);
  }
  expect(pids.size).toBe(2);
}, 30_000);

test("without them, the isolated caller cannot find the callee", async () => {
  const caller = await isolatedCaller([]);
  const r = await caller.http(`/v1.0/invoke/${calleeId}/method/x`);
  expect(r.status).toBe(500);
  expect(((await r.json()) as any).message).toContain("couldn't find service");
}, 20_000);
