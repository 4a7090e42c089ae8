// HTTP: /v1.0/secrets/{store}/{key} and /v1.0/secrets/{store}/bulk
import type { Elysia } from "elysia";
import type { ApiContext } from "../../context.js";
import { json, queryMetadata } from "../respond.js";

export function secretsRoutes(app: Elysia, ctx: ApiContext) {
  return app
    .get("/v1.0/secrets/:store/bulk", async ({ params, request }) =>
      json(await ctx.secrets.bulkGet(params.store, queryMetadata(new URL(request.url)))))
    .get("/v1.0/secrets/:store/:key", async ({ params, request }) =>
      json(await ctx.secrets.get(params.store, params.key, queryMetadata(new URL(request.url)))));
}
