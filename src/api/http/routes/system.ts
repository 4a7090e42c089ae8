// HTTP: health, metadata, shutdown.
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { errors } from "../../../errors.js";
import { json, noContent } from "../respond.js";

export function systemEndpoints(ctx: ApiContext): HttpEndpoint[] {
  // As daprd's: health checks need no API token and no spec.api entry.
  const health = { version: "v1.0", group: "healthz", methods: ["GET"], public: true, alwaysAllowed: true } as const;
  return [
    { ...health, name: "Healthz", route: "/healthz", handler: () => (ctx.health.isReady() ? noContent() : json({ errorCode: "ERR_HEALTH_NOT_READY", message: "dapr is not ready" }, 500)) },
    {
      ...health,
      name: "HealthzOutbound",
      route: "/healthz/outbound",
      handler: async () => {
        const report = await ctx.health.outbound();
        if (report.healthy) return noContent();
        const detail = report.failures.map((f) => `${f.component}: ${f.error}`).join("; ");
        return json({ errorCode: "ERR_OUTBOUND_HEALTH_NOT_READY", message: `outbound is not ready: ${detail}` }, 500);
      },
    },
    { name: "GetMetadata", methods: ["GET"], route: "/metadata", version: "v1.0", group: "metadata", handler: () => json(ctx.metadata.get()) },
    {
      name: "PutMetadata",
      methods: ["PUT"],
      route: "/metadata/:key",
      version: "v1.0",
      group: "metadata",
      rawBody: true,
      handler: async ({ params, request }) => {
        if (typeof params.key !== "string") throw errors.malformedRequest("the metadata key in the URL is not valid percent-encoded UTF-8");
        ctx.metadata.set(params.key, await request.text());
        return noContent();
      },
    },
    {
      name: "Shutdown",
      methods: "*",
      route: "/shutdown",
      version: "v1.0",
      group: "shutdown",
      handler: ({ request }) => {
        if (request.method !== "POST") throw errors.malformedRequest(`method ${request.method} is not allowed on /v1.0/shutdown; use POST`);
        ctx.requestShutdown("POST /v1.0/shutdown");
        return noContent();
      },
    },
  ];
}
