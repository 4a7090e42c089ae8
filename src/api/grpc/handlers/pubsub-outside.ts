// rapr.v1.Subscribers: subscribers outside the cluster over Connect / gRPC-Web / gRPC server streaming.
import type { ConnectRouter } from "@connectrpc/connect";
import { Subscribers } from "../../../gen/rapr/v1/pubsub_pb.js";
import { QueuedClient } from "../../../blocks/pubsub/outside/hub.js";
import type { ApiContext } from "../../context.js";
import { errors } from "../../../errors.js";

export function subscribersRouter(router: ConnectRouter, ctx: ApiContext): void {
  router.service(Subscribers, {
    async *subscribe(req, hc) {
      const hub = ctx.pubsub?.outside;
      if (!hub) throw errors.pubsubNotConfigured("the pub/sub block is not running");
      const auth = hc.requestHeader.get("authorization");
      const token = req.token || (auth?.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : undefined);
      hub.authorize(token, req.pubsubName, req.topic);
      const client = new QueuedClient(hub.bufferSize);
      const detach = await hub.attach(req.pubsubName, req.topic, req.filter || undefined, client);
      const stop = () => client.close();
      hc.signal.addEventListener("abort", stop, { once: true });
      try {
        yield { cloudEventJson: "", dropped: 0n };
        for (let ev = await client.next(); ev; ev = await client.next()) {
          yield { cloudEventJson: ev.json, dropped: BigInt(client.dropped) };
        }
      } finally {
        hc.signal.removeEventListener("abort", stop);
        client.close();
        detach();
      }
    },
  });
}
