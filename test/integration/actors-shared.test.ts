// One actor type across three sidecars on one host (no --cluster): the sidecars of app replicas find each other in
// the same-host registry, each actor id is owned by exactly one of them, and calls for an actor owned elsewhere are
// forwarded to its owner. Each replica is its own process (the SDK's actor runtime is one per process); they share
// one sqlite actor state store, so an actor whose sidecar was killed (-9) comes back on a survivor with its state.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";
import { MtlsTransport } from "../../src/transport/mtls/index.js";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { FIXTURES, uid } from "../invoke/support.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-actors-shared-"));
const activationLog = join(dir, "activations.log");
const started: Sidecar[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const IDS = Array.from({ length: 300 }, (_, i) => `a-${i}`);

function writeResources(): string {
  const resources = join(dir, "resources");
  mkdirSync(resources);
  writeFileSync(join(resources, "actorstore.yaml"), `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: actorstore
spec:
  type: state.sqlite
  version: v1
  metadata:
    - name: connectionString
      value: ${join(dir, "actors.db")}
    - name: busyTimeout
      value: 10s
    - name: actorStateStore
      value: "true"
`);
  return resources;
}

/** Each id's activations, in order, by the instance that ran them. */
function activations(): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  const text = existsSync(activationLog) ? readFileSync(activationLog, "utf8") : "";
  for (const line of text.split("\n").filter(Boolean)) {
    const [instance, id] = line.split(" ") as [string, string];
    byId.set(id, [...(byId.get(id) ?? []), instance]);
  }
  return byId;
}

async function actorHosts(sc: Sidecar): Promise<string[]> {
  const meta = (await (await sc.http("/v1.0/metadata")).json()) as { actorRuntime?: { hostReady: boolean }; extended: Record<string, string> };
  return meta.actorRuntime?.hostReady ? (meta.extended.actorHosts ?? "").split(",").filter(Boolean) : [];
}

/** Calls increment on every id through `via`, 20 at a time; each id's answer. */
async function incrementAll(via: Sidecar, ids: readonly string[]): Promise<Map<string, { count: number; instance: string }>> {
  const answers = new Map<string, { count: number; instance: string }>();
  for (let i = 0; i < ids.length; i += 20) {
    await Promise.all(ids.slice(i, i + 20).map(async (id) => {
      const res = await via.http(`/v1.0/actors/SharedCounter/${id}/method/increment`, { method: "POST" });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${id}: ${res.status} ${text}`);
      answers.set(id, JSON.parse(text));
    }));
  }
  return answers;
}

test("300 actor ids over three sidecars: each active on exactly one app, all three used; after a kill -9 the lost ones come back on the survivors with their state", async () => {
  const appId = `shared-${uid()}`;
  const resources = writeResources();
  const env = { RAPR_REGISTRY_DIR: join(dir, "registry"), ACTIVATION_LOG: activationLog };
  for (const instance of ["i0", "i1", "i2"]) {
    const appPort = await freePort();
    started.push(await startSidecar({
      appId,
      env: { ...env, APP_INSTANCE: instance },
      args: ["--app-port", String(appPort), "--resources-path", resources],
      appCommand: [process.execPath, join(FIXTURES, "actors-shared-app.ts")],
    }));
  }
  const [first, second, victim] = started as [Sidecar, Sidecar, Sidecar];
  for (const sc of started) await waitFor(async () => (await actorHosts(sc)).length === 3, "every sidecar to see the three actor hosts", 30_000, 100);

  const round1 = await incrementAll(first, IDS);
  const seen = activations();
  const perInstance = new Map<string, string[]>();
  for (const id of IDS) {
    expect(seen.get(id)).toHaveLength(1);
    const instance = seen.get(id)![0]!;
    expect(round1.get(id)).toEqual({ count: 1, instance });
    perInstance.set(instance, [...(perInstance.get(instance) ?? []), id]);
  }
  expect([...perInstance.keys()].sort()).toEqual(["i0", "i1", "i2"]);
  for (const ids of perInstance.values()) expect(ids.length).toBeGreaterThan(30);

  // Through another sidecar: the same owners, no second activation.
  const round2 = await incrementAll(second, IDS);
  for (const id of IDS) expect(round2.get(id)).toEqual({ count: 2, instance: round1.get(id)!.instance });
  expect([...activations().values()].every((a) => a.length === 1)).toBe(true);

  victim.proc.kill("SIGKILL");
  await victim.proc.exited;
  await victim.stop(); // its app, which outlives a SIGKILLed sidecar
  // No waiting for the survivors' views: a forward that finds the killed sidecar unreachable re-reads the registry
  // and goes to the new owner.

  const round3 = await incrementAll(first, IDS);
  const after = activations();
  expect(await actorHosts(first)).toHaveLength(2);
  for (const id of IDS) {
    const was = round1.get(id)!.instance;
    const now = round3.get(id)!;
    expect(now.count).toBe(3);
    if (was === "i2") {
      expect(now.instance).not.toBe("i2");
      expect(after.get(id)).toEqual(["i2", now.instance]);
    } else {
      expect(now.instance).toBe(was);
      expect(after.get(id)).toEqual([was]);
    }
  }
}, 180_000);

test("the actor request kind on the sidecar transport takes only sidecars of its namespace and trust domain (mTLS identity)", async () => {
  const home = join(dir, "home");
  const registryDir = join(dir, "registry-alone");
  const sc = await startSidecar({ appId: `alone-${uid()}`, env: { HOME: home, RAPR_REGISTRY_DIR: registryDir } });
  started.push(sc);
  const nsDir = join(registryDir, "default");
  const entry = await waitFor(async () => readdirSync(nsDir).find((f) => f.startsWith(`${sc.appId}.`)), "the sidecar's registry entry", 15_000, 50);
  const address = (JSON.parse(readFileSync(join(nsDir, entry), "utf8")) as { address: string }).address;
  const ca = await loadOrCreateCa(join(home, ".rapr", "ca"));
  const call = { kind: "invoke", hops: 1, request: { actorType: "Nobody", actorId: "x", method: "m", verb: "POST", headers: {} } };
  const send = async (namespace: string, header: string) => {
    const client = new MtlsTransport({ tls: await issueLeaf(ca, { trustDomain: "public", namespace, appId: "peer" }) });
    try {
      const res = await client.request(address, { kind: "actor", path: "invoke", headers: { "rapr-actor-call": header }, body: new Uint8Array() });
      return { status: res.status, body: JSON.parse(new TextDecoder().decode(res.body)) as { errorCode: string; message: string } };
    } finally {
      await client.close();
    }
  };
  // Until the actor runtime serves the kind, the transport answers it as an unknown kind.
  const sameNs = await waitFor(async () => {
    const r = await send("default", JSON.stringify(call));
    return r.body.errorCode !== "ERR_DIRECT_INVOKE" && r;
  }, "the actor request kind to be served", 15_000, 100);
  expect(sameNs).toEqual({ status: 404, body: { errorCode: "ERR_ACTOR_NO_ADDRESS", message: "did not find address for actor 'Nobody||x'" } });
  const otherNs = await send("other", JSON.stringify(call));
  expect(otherNs.status).toBe(403);
  expect(otherNs.body.errorCode).toBe("ERR_PERMISSION_DENIED");
  expect(otherNs.body.message).toContain("spiffe://public/ns/other/peer is not of namespace default");
  const malformed = await send("default", "{");
  expect(malformed.status).toBe(400);
  expect(malformed.body.errorCode).toBe("ERR_MALFORMED_REQUEST");
}, 60_000);
