// The Rapr extension on the HTTP port: GET /v1.0-rapr/subscribe/{pubsub}/{topic} upgraded to a WebSocket, for
// subscribers outside the cluster. ?token=… (or Authorization: Bearer) and an optional CEL ?filter=….
// Frames: first {"subscribed":true}, then {"dropped": <events this client lost so far>, "event": <CloudEvent>}.
// A refused upgrade is closed with code 4000 + the HTTP status (4401, 4403, 4404, 4400) and the error as reason,
// because browsers cannot read the status of a refused upgrade; a plain GET gets the status itself.
// Served by Bun.serve directly (server.ts calls tryUpgrade before the Elysia app), not through Elysia.
//
// Backpressure: subscribers without a filter share one native broadcast group per topic (Bun's server.publish
// hands an event to 10,000 sockets in about a millisecond, where a JavaScript loop of ws.send takes ~100 ms);
// one of them that falls more than BROADCAST_BACKPRESSURE_BYTES behind is cut off. Subscribers with a filter are
// served one by one with a bounded socket buffer and a drop counter carried in every frame.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { ApiContext } from "../../context.js";
import { outsideSlot, type OutsideClient, type OutsideEvent } from "../../../blocks/pubsub/outside/hub.js";
import { pubsubSlot } from "../../../blocks/pubsub/pubsub-block.js";
import { DaprError, errors } from "../../../errors.js";
import { decodedSegment, errorResponse, json } from "../respond.js";

const PREFIX = "/v1.0-rapr/subscribe/";
/** Bytes a client may have unsent in its socket before further events are dropped for it. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Unsent bytes after which Bun closes a broadcast-group subscriber that stopped reading. */
const BROADCAST_BACKPRESSURE_BYTES = 4 << 20;

interface Target {
  pubsub: string;
  topic: string;
  token?: string;
  filter?: string;
}

interface WsData {
  target: Target;
  refused?: DaprError | Error;
  client?: WebSocketClient;
  /** The broadcast group this socket joined (no filter). */
  group?: string;
}

/** All unfiltered subscribers of one topic on this node: one hub entry, one native publish per event. */
class BroadcastGroup implements OutsideClient {
  members = 0;
  detach?: Promise<() => void>;

  constructor(private readonly server: Server<WsData>, private readonly key: string) {}

  offer(ev: OutsideEvent): boolean {
    this.server.publish(this.key, (ev.frame0 ??= `{"dropped":0,"event":${ev.json}}`));
    return true;
  }

  size(): number {
    return this.members;
  }
}

class WebSocketClient implements OutsideClient {
  dropped = 0;
  detach?: () => void;
  closed = false;

  constructor(private readonly ws: ServerWebSocket<WsData>, private readonly maxBuffered: number) {}

  offer(ev: OutsideEvent): boolean {
    if (this.closed || this.ws.getBufferedAmount() > this.maxBuffered) {
      this.dropped++;
      return false;
    }
    // Clients that never lost an event (nearly all) share one frame string per event.
    const frame = this.dropped === 0 ? (ev.frame0 ??= `{"dropped":0,"event":${ev.json}}`) : `{"dropped":${this.dropped},"event":${ev.json}}`;
    const status = this.ws.send(frame);
    if (status === 0) {
      this.dropped++;
      return false;
    }
    return true;
  }
}

function parseTarget(request: Request, url: URL): Target | undefined {
  const rest = url.pathname.slice(PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const dec = (s: string) => decodedSegment(s) ?? s;
  const auth = request.headers.get("authorization");
  const token = auth?.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : url.searchParams.get("token") || undefined;
  return { pubsub: dec(rest.slice(0, slash)), topic: dec(rest.slice(slash + 1)), token, filter: url.searchParams.get("filter") || undefined };
}

function check(ctx: ApiContext, t: Target) {
  const block = ctx.blocks.get(pubsubSlot);
  const hub = ctx.blocks.get(outsideSlot);
  if (!block || !hub) throw errors.pubsubNotConfigured("the pub/sub block is not running");
  hub.authorize(t.token, t.pubsub, t.topic);
  block.component(t.pubsub);
  hub.filter(t.filter);
  return hub;
}

export interface OutsideWebSocket {
  handler: WebSocketHandler<WsData>;
  /** undefined: not this endpoint; true: upgraded; a Response: answered without upgrading. */
  tryUpgrade(request: Request, url: string, server: Server<WsData>): true | Response | undefined;
}

export function outsideWebSocket(ctx: ApiContext): OutsideWebSocket {
  const groups = new Map<string, BroadcastGroup>();
  let server: Server<WsData> | undefined;
  return {
    tryUpgrade(request, href, srv) {
      if (!href.includes(PREFIX)) return undefined;
      const url = new URL(href);
      if (!url.pathname.startsWith(PREFIX) || request.method !== "GET") return undefined;
      const target = parseTarget(request, url);
      if (!target) return json({ errorCode: "ERR_MALFORMED_REQUEST", message: `expected ${PREFIX}{pubsub}/{topic}` }, 400);
      let refused: Error | undefined;
      try {
        check(ctx, target);
      } catch (err) {
        refused = err as Error;
      }
      const isUpgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
      if (!isUpgrade) return refused ? errorResponse(refused) : json({ errorCode: "ERR_MALFORMED_REQUEST", message: "this endpoint speaks WebSocket" }, 426);
      server ??= srv;
      if (srv.upgrade(request, { data: { target, refused } })) return true;
      return json({ errorCode: "ERR_MALFORMED_REQUEST", message: "WebSocket upgrade failed" }, 400);
    },
    handler: {
      // Listeners send nothing but pongs; pings keep idle subscriptions open through proxies.
      maxPayloadLength: 64 * 1024,
      backpressureLimit: BROADCAST_BACKPRESSURE_BYTES,
      closeOnBackpressureLimit: true,
      idleTimeout: 960,
      sendPings: true,
      async open(ws) {
        const { target, refused } = ws.data;
        try {
          if (refused) throw refused;
          const hub = check(ctx, target);
          if (!target.filter && server) {
            const key = `${target.pubsub}\u0000${target.topic}`;
            let group = groups.get(key);
            if (!group) {
              group = new BroadcastGroup(server, key);
              groups.set(key, group);
              group.detach = hub.attach(target.pubsub, target.topic, undefined, group);
              group.detach.catch(() => groups.get(key) === group && groups.delete(key));
            }
            group.members++;
            ws.data.group = key;
            ws.subscribe(key);
            await group.detach;
          } else {
            const client = new WebSocketClient(ws, Math.min(BROADCAST_BACKPRESSURE_BYTES / 2, Math.max(MAX_BUFFERED_BYTES, hub.bufferSize * 4096)));
            ws.data.client = client;
            const detach = await hub.attach(target.pubsub, target.topic, target.filter, client);
            if (client.closed) detach(); // the socket closed while attaching
            else client.detach = detach;
          }
          ws.send('{"subscribed":true}');
        } catch (err) {
          const status = err instanceof DaprError ? err.httpStatus : 500;
          const errorCode = err instanceof DaprError ? err.errorCode : "ERR_INTERNAL";
          ws.close(4000 + status, JSON.stringify({ errorCode, message: (err as Error).message }).slice(0, 120));
        }
      },
      message() {
        // Subscribers only listen; whatever they send is ignored.
      },
      close(ws) {
        const key = ws.data.group;
        if (key) {
          const group = groups.get(key);
          if (group && --group.members === 0) {
            groups.delete(key);
            void group.detach?.then((detach) => detach()).catch(() => {});
          }
          return;
        }
        const c = ws.data.client;
        if (!c) return;
        c.closed = true;
        c.detach?.();
      },
    },
  };
}
