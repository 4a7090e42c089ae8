// The Rapr extension on the HTTP port: GET /v1.0-rapr/subscribe/{pubsub}/{topic} upgraded to a WebSocket.
// ?token=… (or an Authorization: Bearer header) and an optional CEL ?filter=…. Each text frame is
// {"dropped": <events this client lost so far>, "event": <CloudEvent>}.
import type { Elysia } from "elysia";
import type { ServerWebSocket } from "bun";
import type { ApiContext } from "../../context.js";
import type { OutsideClient, OutsideEvent } from "../../../blocks/pubsub/outside/hub.js";
import { errors } from "../../../errors.js";

/** Bytes a client may have unsent in its socket before further events are dropped for it. */
const MAX_BUFFERED_BYTES = 1 << 20;

class WebSocketClient implements OutsideClient {
  dropped = 0;
  detach?: () => void;

  constructor(private readonly ws: ServerWebSocket<unknown>, private readonly maxBuffered: number) {}

  offer(ev: OutsideEvent): boolean {
    if (this.ws.readyState !== 1 || this.ws.getBufferedAmount() > this.maxBuffered) {
      this.dropped++;
      return false;
    }
    const status = this.ws.send(`{"dropped":${this.dropped},"event":${ev.json}}`);
    if (status === 0) {
      this.dropped++;
      return false;
    }
    return true;
  }
}

function tokenOf(request: Request, query: Record<string, string | undefined>): string | undefined {
  const auth = request.headers.get("authorization");
  if (auth?.toLowerCase().startsWith("bearer ")) return auth.slice(7).trim();
  return query.token || undefined;
}

function topicOf(params: Record<string, string>): string {
  try {
    return decodeURIComponent(params["*"] ?? "");
  } catch {
    return params["*"] ?? "";
  }
}

export function outsideWebSocketRoute(app: Elysia, ctx: ApiContext) {
  const clients = new Map<ServerWebSocket<unknown>, WebSocketClient>();
  return app.ws("/v1.0-rapr/subscribe/:pubsub/*", {
    beforeHandle({ params, query, request }: { params: Record<string, string>; query: Record<string, string | undefined>; request: Request }) {
      const hub = ctx.pubsub?.outside;
      if (!hub) throw errors.pubsubNotConfigured("the pub/sub block is not running");
      hub.authorize(tokenOf(request, query), params.pubsub, topicOf(params));
      hub.filter(query.filter);
      ctx.pubsub!.component(params.pubsub);
    },
    async open(ws: { raw: unknown; data: unknown }) {
      const hub = ctx.pubsub!.outside!;
      const data = ws.data as unknown as { params: Record<string, string>; query: Record<string, string | undefined> };
      const raw = ws.raw as unknown as ServerWebSocket<unknown>;
      const client = new WebSocketClient(raw, Math.max(MAX_BUFFERED_BYTES, hub.bufferSize * 4096));
      clients.set(raw, client);
      try {
        const detach = await hub.attach(data.params.pubsub, topicOf(data.params), data.query.filter, client);
        if (!clients.has(raw)) detach(); // closed while attaching
        else client.detach = detach;
        raw.send(JSON.stringify({ subscribed: true }));
      } catch (err) {
        raw.close(1011, (err as Error).message.slice(0, 120));
      }
    },
    message() {
      // Subscribers only listen; anything they send is ignored.
    },
    close(ws: { raw: unknown }) {
      const raw = ws.raw as unknown as ServerWebSocket<unknown>;
      clients.get(raw)?.detach?.();
      clients.delete(raw);
    },
  } as never) as unknown as Elysia;
}
