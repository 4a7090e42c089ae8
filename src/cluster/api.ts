// Cluster membership on both API fronts: GET /v1.0-alpha1/cluster/members and rapr.v1.Cluster
// (ListMembers, WatchMembers) over Connect / gRPC-Web / gRPC.
import { ConnectError, Code, type ServiceImpl } from "@connectrpc/connect";
import type { ApiContext } from "../api/context.js";
import { Cluster, MemberEvent_Kind } from "../gen/rapr/v1/cluster_pb.js";
import { Slot, type HttpEndpoint } from "../runtime/block.js";
import type { ClusterNode, Member, MembershipEvent } from "./index.js";

/** This sidecar's cluster node, while it is a member. */
export const clusterSlot = new Slot<ClusterNode>("cluster");

function clusterOf(ctx: ApiContext): ClusterNode | undefined {
  return ctx.blocks.get(clusterSlot);
}

export function memberJson(m: Member) {
  return { id: m.id, address: m.addr, state: m.state, incarnation: m.incarnation, metadata: m.metadata };
}

export function clusterEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const members = () => {
    const node = clusterOf(ctx);
    const body = node
      ? { enabled: true, self: node.id, discovery: node.discoveryStatus() ?? { state: "off" }, members: node.members().map(memberJson) }
      : { enabled: false, members: [] };
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  };
  return [{ name: "ListClusterMembers", methods: ["GET"], route: "/cluster/members", version: "v1.0-alpha1", group: "cluster", handler: members }];
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

export function clusterService(ctx: ApiContext): ServiceImpl<typeof Cluster> {
  return {
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
  };
}
