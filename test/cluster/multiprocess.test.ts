// Five compiled rapr processes (built here, run from a directory with no node_modules) form one cluster
// through a local hyperswarm testnet; kill -9 of one is seen as a failure by all survivors; restarted
// with the same member id it rejoins with a higher incarnation; a SIGTERM is seen as a graceful leave.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledRapr } from "./compiled-rapr.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { waitFor } from "../support/ports.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-cluster-mp-"));
let bin = "";
const registryDir = join(dir, "registry");
let testnet: any;
let bootstrap = "";
const sidecars = new Map<string, Sidecar>();

interface MemberView {
  id: string;
  state: string;
  incarnation: number;
  metadata: Record<string, string>;
}

async function view(s: Sidecar): Promise<MemberView[]> {
  const res = await s.http("/v1.0-alpha1/cluster/members");
  return ((await res.json()) as { members: MemberView[] }).members;
}

async function start(memberId: string): Promise<Sidecar> {
  const s = await startSidecar({
    appId: `app-${memberId}`,
    bin,
    cwd: dir,
    env: { RAPR_CLUSTER_DHT_HOST: "127.0.0.1", RAPR_REGISTRY_DIR: registryDir },
    args: [
      "--enable-metrics=false",
      "--cluster", "mp-test", "--cluster-secret", "mp-test-secret-8d41c0e6a7",
      "--cluster-bootstrap", bootstrap,
      "--cluster-host", "127.0.0.1",
      "--cluster-member-id", memberId,
      "--cluster-probe-interval", "200", "--cluster-probe-timeout", "100", "--cluster-sync-interval", "1000",
    ],
  });
  sidecars.set(memberId, s);
  return s;
}

beforeAll(async () => {
  bin = (await compiledRapr()).bin;
  const createTestnet = require("@hyperswarm/testnet");
  testnet = await createTestnet(3, { host: "127.0.0.1" });
  bootstrap = testnet.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`).join(",");
}, 120_000);

afterAll(async () => {
  for (const s of sidecars.values()) {
    s.proc.kill("SIGKILL");
    await s.proc.exited;
  }
  await testnet?.destroy();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe("five rapr processes", () => {
  const ids = ["m1", "m2", "m3", "m4", "m5"];

  test("form one cluster, see a kill -9 as a failure, take the member back at a higher incarnation, see a SIGTERM as a leave", async () => {
    for (const id of ids) await start(id);
    await waitFor(async () => {
      for (const s of sidecars.values()) {
        const alive = (await view(s)).filter((m) => m.state === "alive").map((m) => m.id).sort();
        if (alive.join() !== ids.join()) return false;
      }
      return true;
    }, "all five to see five alive members", 60_000, 200);
    const m1 = await view(sidecars.get("m1")!);
    expect(m1.find((m) => m.id === "m4")!.metadata.appId).toBe("app-m4");

    const victim = sidecars.get("m3")!;
    victim.proc.kill("SIGKILL");
    await victim.proc.exited;
    sidecars.delete("m3");
    let deadIncarnation = -1;
    await waitFor(async () => {
      for (const s of sidecars.values()) {
        const m3 = (await view(s)).find((m) => m.id === "m3");
        if (m3?.state !== "dead") return false;
        deadIncarnation = Math.max(deadIncarnation, m3.incarnation);
      }
      return true;
    }, "every survivor to mark m3 dead", 60_000, 200);

    await start("m3");
    await waitFor(async () => {
      for (const s of sidecars.values()) {
        const m3 = (await view(s)).find((m) => m.id === "m3");
        if (m3?.state !== "alive" || m3.incarnation <= deadIncarnation) return false;
      }
      return true;
    }, "m3 to be alive again everywhere at a higher incarnation", 60_000, 200);

    // A graceful shutdown (SIGTERM) is a leave, not a failure.
    const leaving = sidecars.get("m5")!;
    leaving.proc.kill("SIGTERM");
    expect(await leaving.proc.exited).toBe(0);
    sidecars.delete("m5");
    await waitFor(async () => {
      for (const s of sidecars.values()) if ((await view(s)).find((m) => m.id === "m5")?.state !== "left") return false;
      return true;
    }, "every other member to see m5 left", 30_000, 200);
  }, 180_000);
});
