// HTTP: /v1.0/secrets/{store}/{key} and /v1.0/secrets/{store}/bulk
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { secretsSlot, type SecretsBlock } from "../../../blocks/secrets/secrets-block.js";
import { errors } from "../../../errors.js";
import { json, queryMetadata } from "../respond.js";

export function secretsEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const ep = (name: string, route: string, handler: HttpEndpoint["handler"]): HttpEndpoint => ({ name, methods: ["GET"], route, version: "v1.0", group: "secrets", handler });
  return [
    ep("GetBulkSecret", "/secrets/:store/bulk", async ({ params, request }) =>
      json(await secretsOf(ctx).bulkGet(params.store, queryMetadata(new URL(request.url))))),
    ep("GetSecret", "/secrets/:store/:key", async ({ params, request }) =>
      json(await secretsOf(ctx).get(params.store, params.key, queryMetadata(new URL(request.url))))),
  ];
}

export function secretsOf(ctx: ApiContext): SecretsBlock {
  const block = ctx.blocks.get(secretsSlot);
  if (!block) throw errors.secretStoresNotConfigured("the secrets block is not running");
  return block;
}
