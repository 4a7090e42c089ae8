// gRPC: GetConfiguration, SubscribeConfiguration (server stream), UnsubscribeConfiguration and their Alpha1 twins.
import { EventEmitter, on } from "node:events";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type {
  GetConfigurationRequest, SubscribeConfigurationRequest, UnsubscribeConfigurationRequest,
} from "../../../gen/dapr/proto/runtime/v1/configuration_pb.js";
import type { ApiContext } from "../../context.js";
import { configurationOf } from "../../http/routes/configuration.js";
import type { ConfigurationUpdate } from "../../../components/contracts/configuration.js";
import { DaprError, messageOf } from "../../../errors.js";
import { asConnectError } from "./pubsub-outside.js";

export function configurationHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  const get = async (req: GetConfigurationRequest) => ({
    items: await configurationOf(ctx).get(req.storeName, { keys: req.keys.filter((k) => k !== ""), metadata: req.metadata }),
  });
  const unsubscribe = async (req: UnsubscribeConfigurationRequest) => {
    try {
      await configurationOf(ctx).unsubscribe(req.storeName, req.id);
      return { ok: true };
    } catch (err) {
      if (err instanceof DaprError) throw err;
      return { ok: false, message: messageOf(err) };
    }
  };
  const subscribe = (req: SubscribeConfigurationRequest, hc: HandlerContext) => subscription(ctx, req, hc);
  return {
    getConfiguration: get,
    getConfigurationAlpha1: get,
    subscribeConfiguration: subscribe,
    subscribeConfigurationAlpha1: subscribe,
    unsubscribeConfiguration: unsubscribe,
    unsubscribeConfigurationAlpha1: unsubscribe,
  };
}

/** A first message with only the id, then one per update, until the client leaves or the id is unsubscribed. */
async function* subscription(ctx: ApiContext, req: SubscribeConfigurationRequest, hc: HandlerContext) {
  const updates = new EventEmitter();
  const ended = new AbortController();
  const signal = AbortSignal.any([hc.signal, ended.signal]);
  const incoming = on(updates, "update", { signal });
  let id: string;
  try {
    const block = configurationOf(ctx);
    const keys = req.keys.filter((k) => k !== "").sort();
    id = await block.subscribe(req.storeName, { keys, metadata: req.metadata }, async (u) => void updates.emit("update", u), () => ended.abort());
  } catch (err) {
    throw asConnectError(err);
  }
  try {
    yield { id, items: {} };
    for await (const [update] of incoming as AsyncIterable<[ConfigurationUpdate]>) yield { id, items: update.items };
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    if (!ended.signal.aborted) await configurationOf(ctx).unsubscribe(req.storeName, id).catch(() => {});
  }
}
