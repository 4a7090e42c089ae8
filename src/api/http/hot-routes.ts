// The highest-volume calls answered without Elysia's router and lifecycle, which cost more per call than the
// work itself on these paths. Each route module owns its hot form; what a hot route declines goes to Elysia.
import type { ApiContext } from "../context.js";
import { hotInvoke } from "./routes/invoke.js";
import { hotPublish } from "./routes/pubsub.js";

/** `url` is request.url, read once (each read builds a new string). */
export type HotRoute = (request: Request, pathname: string, url: string) => Promise<Response> | undefined;

export function hotRoutes(ctx: ApiContext): HotRoute {
  // Invocation first: a dapr-app-id header turns any path, a publish path included, into an invocation.
  return (request, pathname, url) => hotInvoke(ctx, request, pathname, url) ?? hotPublish(ctx, request, pathname);
}
