// HTTP: health, metadata, shutdown.
import type { Elysia } from "elysia";
import type { ApiContext } from "../../context.js";
import { errors } from "../../../errors.js";
import { json, noContent } from "../respond.js";

export function systemRoutes(app: Elysia, ctx: ApiContext) {
  return app
    .get("/v1.0/healthz", () => (ctx.health.isReady() ? noContent() : json({ errorCode: "ERR_HEALTH_NOT_READY", message: "dapr is not ready" }, 500)))
    .get("/v1.0/healthz/outbound", async () => {
      const report = await ctx.health.outbound();
      if (report.healthy) return noContent();
      const detail = report.failures.map((f) => `${f.component}: ${f.error}`).join("; ");
      return json({ errorCode: "ERR_OUTBOUND_HEALTH_NOT_READY", message: `outbound is not ready: ${detail}` }, 500);
    })
    .get("/v1.0/metadata", () => json(ctx.metadata.get()))
    .put("/v1.0/metadata/:key", async ({ params, request }) => {
      if (typeof params.key !== "string") throw errors.malformedRequest("the metadata key in the URL is not valid percent-encoded UTF-8");
      ctx.metadata.set(params.key, await request.text());
      return noContent();
    }, { parse: "none" })
    .post("/v1.0/shutdown", () => {
      ctx.requestShutdown("POST /v1.0/shutdown");
      return noContent();
    })
    .all("/v1.0/shutdown", ({ request }) => {
      throw errors.malformedRequest(`method ${request.method} is not allowed on /v1.0/shutdown; use POST`);
    });
}
