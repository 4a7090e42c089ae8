// The cluster API fronts: GET /v1.0-alpha1/cluster/members and rapr.v1.Cluster over Connect.
import { afterAll, describe, expect, test } from "bun:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { ApiContext } from "../../src/api/context.js";
import { buildHttpApp } from "../../src/api/http/server.js";
import { BlockSlots } from "../../src/runtime/block.js";
import { clusterEndpoints, clusterService, clusterSlot } from "../../src/cluster/api.js";
import { createClusterNode, type ClusterNode } from "../../src/cluster/index.js";
import { Cluster, MemberEvent_Kind } from "../../src/gen/rapr/v1/cluster_pb.js";

const fast = { probeIntervalMs: 200, probeTimeoutMs: 150, gossipIntervalMs: 30, syncIntervalMs: 500 };
const opened: ClusterNode[] = [];
const make = async (metadata: Record<string, string>, peers: string[] = []) => {
  const n = await createClusterNode({ name: "api", secret: "api-test-secret-3f9b27c1d4", metadata, discovery: false, host: "127.0.0.1", peers, swim: fast });
  opened.push(n);
  return n;
};
afterAll(async () => {
  await Promise.allSettled(opened.map((n) => n.close()));
}, 30_000);

describe("cluster API", () => {
  test("HTTP lists members, or says clustering is off", async () => {
    const ctx = { blocks: new BlockSlots() } as ApiContext;
    const app = buildHttpApp(ctx, clusterEndpoints(ctx));
    const off = await (await app.handle(new Request("http://localhost/v1.0-alpha1/cluster/members"))).json();
    expect(off).toEqual({ enabled: false, members: [] });

    const node = await make({ appId: "orders" });
    ctx.blocks.set(clusterSlot, node);
    const on = (await (await app.handle(new Request("http://localhost/v1.0-alpha1/cluster/members"))).json()) as any;
    expect(on.enabled).toBe(true);
    expect(on.self).toBe(node.id);
    expect(on.members[0]).toMatchObject({ id: node.id, address: node.address, state: "alive", metadata: { appId: "orders" } });
  });

  test("WatchMembers streams current members as JOIN, then changes", async () => {
    const ctx = { blocks: new BlockSlots() } as ApiContext;
    const a = await make({ appId: "a" });
    ctx.blocks.set(clusterSlot, a);
    const client = createClient(Cluster, createRouterTransport((router) => router.service(Cluster, clusterService(ctx))));
    expect((await client.listMembers({})).members.map((m) => m.id)).toEqual([a.id]);

    const abort = new AbortController();
    const stream = client.watchMembers({}, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value.kind).toBe(MemberEvent_Kind.JOIN);
    expect(first.value.member.id).toBe(a.id);

    const b = await make({ appId: "b" }, [a.address]);
    for (let i = 0; i < 20; i++) {
      const { value } = await stream.next();
      if (value.member.id === b.id && value.kind === MemberEvent_Kind.JOIN) break;
    }
    await b.leave();
    let left = false;
    for (let i = 0; i < 20 && !left; i++) {
      const { value } = await stream.next();
      left = value.member.id === b.id && value.kind === MemberEvent_Kind.LEAVE;
    }
    expect(left).toBe(true);
    abort.abort();
  });
});
