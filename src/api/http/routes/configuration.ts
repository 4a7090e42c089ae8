// HTTP: GET /configuration/{store}, /configuration/{store}/subscribe and /configuration/{store}/{id}/unsubscribe,
// each under v1.0 and v1.0-alpha1 as daprd serves them.
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { configurationSlot, type ConfigurationBlock } from "../../../blocks/configuration/configuration-block.js";
import { itemsJson } from "../../../blocks/configuration/app-delivery.js";
import type { ConfigurationRequest } from "../../../components/contracts/configuration.js";
import { DaprError, errors, messageOf } from "../../../errors.js";
import { json, noContent, queryMetadata } from "../respond.js";

export function configurationEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const routes: Omit<HttpEndpoint, "version" | "methods" | "group">[] = [
    {
      name: "GetConfiguration",
      route: "/configuration/:store",
      handler: async ({ params, request }) => {
        const items = await configurationOf(ctx).get(params.store, requestOf(request));
        return Object.keys(items).length ? json(itemsJson(items)) : noContent();
      },
    },
    {
      name: "SubscribeConfiguration",
      route: "/configuration/:store/subscribe",
      handler: async ({ params, request }) => json({ id: await configurationOf(ctx).subscribeApp(params.store, requestOf(request)) }),
    },
    {
      name: "UnsubscribeConfiguration",
      route: "/configuration/:store/:id/unsubscribe",
      handler: async ({ params }) => {
        const block = configurationOf(ctx);
        try {
          await block.unsubscribe(params.store, params.id);
        } catch (err) {
          if (err instanceof DaprError) throw err;
          return json({ ok: false, message: messageOf(err) }, 500);
        }
        return json({ ok: true });
      },
    },
  ];
  return (["v1.0", "v1.0-alpha1"] as const).flatMap((version) =>
    routes.map((r): HttpEndpoint => ({ ...r, version, methods: ["GET"], group: "configuration" })));
}

export function configurationOf(ctx: ApiContext): ConfigurationBlock {
  const block = ctx.blocks.get(configurationSlot);
  if (!block) throw errors.configurationStoreNotConfigured("configuration stores not configured");
  return block;
}

/** ?key=a&key=b (none: every key) and metadata.X=… query parameters. */
function requestOf(request: Request): ConfigurationRequest {
  const url = new URL(request.url);
  return { keys: url.searchParams.getAll("key").filter((k) => k !== ""), metadata: queryMetadata(url) };
}
