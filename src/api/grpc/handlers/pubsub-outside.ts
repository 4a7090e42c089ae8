// rapr.v1.Subscribers: subscribers outside the cluster over Connect / gRPC-Web / gRPC server streaming.
import { ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Subscribers } from "../../../gen/rapr/v1/pubsub_pb.js";
import { outsideSlot, QueuedClient } from "../../../blocks/pubsub/outside/hub.js";
import type { ApiContext } from "../../context.js";
import { DaprError, errors } from "../../../errors.js";

/** Streaming handlers throw after the interceptor returned, so Dapr errors become Connect errors here. */
export function asConnectError(err: unknown): unknown {
  return err instanceof DaprError ? new ConnectError(err.message, err.grpcCode, { "dapr-error-code": err.errorCode }) : err;
}

export function subscribersService(ctx: ApiContext): ServiceImpl<typeof Subscribers> {
  return {
    async *subscribe(req, hc) {
      const hub = ctx.blocks.get(outsideSlot);
      if (!hub) throw asConnectError(errors.pubsubNotConfigured("the pub/sub block is not running"));
      const auth = hc.requestHeader.get("authorization");
      const token = req.token || (auth?.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : undefined);
      const client = new QueuedClient(hub.bufferSize);
      let detach: () => void;
      try {
        hub.authorize(token, req.pubsubName, req.topic);
        detach = await hub.attach(req.pubsubName, req.topic, req.filter || undefined, client);
      } catch (err) {
        throw asConnectError(err);
      }
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
  };
}
