// Cluster membership on both API fronts: GET /v1.0-alpha1/cluster/members and rapr.v1.Cluster
// (ListMembers, WatchMembers) over Connect / gRPC-Web / gRPC.
import { ConnectError, Code, type ConnectRouter } from "@connectrpc/connect";
import type { Elysia } from "elysia";
import type { ApiContext } from "../api/context.js";
import { Cluster, MemberEvent_Kind } from "../gen/rapr/v1/cluster_pb.js";
import type { ClusterNode, Member, MembershipEvent } from "./index.js";

const nodes = new WeakMap<ApiContext, ClusterNode>();

export function attachCluster(ctx: ApiContext, node: ClusterNode | undefined): void {
  if (node) nodes.set(ctx, node);
  else nodes.delete(ctx);
}

export function clusterOf(ctx: ApiContext): ClusterNode | undefined {
  return nodes.get(ctx);
}

export function memberJson(m: Member) {
  return { id: m.id, address: m.addr, state: m.state, incarnation: m.incarnation, metadata: m.metadata };
}

export function clusterRoutes(app: Elysia, ctx: ApiContext) {
  return app.get("/v1.0-alpha1/cluster/members", () => {
    const node = clusterOf(ctx);
    const body = node
      ? { enabled: true, self: node.id, discovery: node.discoveryStatus() ?? { state: "off" }, members: node.members().map(memberJson) }
      : { enabled: false, members: [] };
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  });
}

const kinds: Record<MembershipEvent["type"], MemberEvent_Kind> = {
  join: MemberEvent_Kind.JOIN,
  suspect: MemberEvent_Kind.SUSPECT,
  alive: MemberEvent_Kind.ALIVE,
  fail: MemberEvent_Kind.FAIL,
  leave: MemberEvent_Kind.LEAVE,
  update: MemberEvent_Kind.UPDATE,
};

function memberMessage(m: Member) {
  return { id: m.id, address: m.addr, state: m.state, incarnation: BigInt(m.incarnation), metadata: m.metadata };
}

export function clusterRouter(router: ConnectRouter, ctx: ApiContext): void {
  router.service(Cluster, {
    listMembers() {
      return { members: (clusterOf(ctx)?.members() ?? []).map(memberMessage) };
    },
    async *watchMembers(_req, hc) {
      const node = clusterOf(ctx);
      if (!node) throw new ConnectError("clustering is not enabled (rapr run --cluster <name>)", Code.FailedPrecondition);
      const events = node.events(); // subscribe before the snapshot so nothing falls between them
      const stop = () => void events.return?.();
      hc.signal.addEventListener("abort", stop, { once: true });
      try {
        for (const m of node.members()) if (m.state === "alive" || m.state === "suspect") yield { kind: MemberEvent_Kind.JOIN, member: memberMessage(m) };
        for await (const e of events) yield { kind: kinds[e.type], member: memberMessage(e.member) };
      } finally {
        hc.signal.removeEventListener("abort", stop);
        stop();
      }
    },
  });
}
