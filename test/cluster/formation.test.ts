// Cluster formation through the compiled binary ($RAPR_BIN or dist/rapr), with the documented flags only:
// a few rounds of 3 nodes started at once on a local testnet (bench/cluster-formation.ts runs many more and
// times them), and a node whose DHT is unreachable: its APIs answer while discovery is still joining, the
// cluster API and metadata say so, and SIGTERM stops it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { formationRound, startTestnet, type Testnet } from "../../bench/cluster-formation.js";
import { startSidecar } from "../support/sidecar.js";
import { freePort } from "../support/ports.js";

const SECRET = "formation-test-secret-5c21e9a0b7";

describe("cluster formation (rapr binary)", () => {
  let testnet: Testnet;
  // A 3-node DHT, as @hyperswarm/testnet makes by default: its nodes cannot NAT-analyse a punch socket (only 2
  // DHT nodes known), so this passes only because the nodes find each other reachable (docs/cluster.md).
  beforeAll(async () => (testnet = await startTestnet(3)), 60_000);
  afterAll(() => testnet?.destroy(), 30_000);

  test("3 nodes started at once form one cluster, round after round", async () => {
    for (let round = 0; round < 3; round++) {
      const res = await formationRound({ nodes: 3, bootstrap: testnet.bootstrap, timeoutMs: 40_000 });
      if (res.formedMs === undefined) console.error(res.logs.join("\n----\n"));
      expect({ round, formed: res.formedMs !== undefined, view: res.lastView }).toEqual({ round, formed: true, view: [3, 3, 3] });
    }
  }, 150_000);
});

test("a node whose DHT does not answer serves its APIs at once, shows discovery joining, and stops on SIGTERM", async () => {
  const deadBootstrap = `127.0.0.1:${await freePort()}`; // nothing listens there
  const s = await startSidecar({ args: ["--cluster", "offline", "--cluster-secret", SECRET, "--cluster-bootstrap", deadBootstrap] });
  try {
    expect((await s.http("/v1.0/healthz/outbound")).status).toBe(204);
    const members = (await (await s.http("/v1.0-alpha1/cluster/members")).json()) as { discovery: { state: string }; members: unknown[] };
    expect(members.discovery.state).toBe("joining");
    expect(members.members.length).toBe(1);
    const meta = (await (await s.http("/v1.0/metadata")).json()) as { extended: Record<string, string> };
    expect(meta.extended["rapr.cluster.discovery"]).toBe("joining");
  } finally {
    expect(await s.stop()).toBe(0);
  }
}, 60_000);
