// Clients for subscribers outside the cluster, as a browser or a device would use them.
import { connect as netConnect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Subscribers } from "../../src/gen/rapr/v1/pubsub_pb.js";
import { waitFor } from "../support/ports.js";

export interface Frame {
  dropped: number;
  event: any;
}

/** A WebSocket subscriber; resolves once the node confirmed the subscription. */
export async function wsSubscribe(httpPort: number, pubsub: string, topic: string, token: string, filter?: string) {
  const q = new URLSearchParams({ token });
  if (filter) q.set("filter", filter);
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/v1.0-rapr/subscribe/${pubsub}/${encodeURIComponent(topic)}?${q}`);
  const frames: Frame[] = [];
  let confirmed = false;
  let closed: { code: number; reason: string } | undefined;
  ws.onmessage = (m) => {
    const v = JSON.parse(String(m.data));
    if (v.subscribed) confirmed = true;
    else frames.push(v);
  };
  ws.onclose = (e) => (closed = { code: e.code, reason: e.reason });
  await waitFor(() => confirmed || closed, "WebSocket subscription");
  if (!confirmed) throw new Error(`WebSocket closed: ${closed?.code} ${closed?.reason}`);
  return { ws, frames, close: () => ws.close() };
}

/** A Connect server-streaming subscriber over HTTP/1.1 (what a browser's connect-web client speaks). */
export function connectSubscribe(grpcPort: number, req: { pubsubName: string; topic: string; token: string; filter?: string }) {
  const client = createClient(Subscribers, createConnectTransport({ baseUrl: `http://127.0.0.1:${grpcPort}`, httpVersion: "1.1" }));
  const controller = new AbortController();
  const events: { ce: any; dropped: number }[] = [];
  let confirmed = false;
  let error: unknown;
  const done = (async () => {
    try {
      for await (const m of client.subscribe({ ...req, filter: req.filter ?? "" }, { signal: controller.signal })) {
        if (!m.cloudEventJson) confirmed = true;
        else events.push({ ce: JSON.parse(m.cloudEventJson), dropped: Number(m.dropped) });
      }
    } catch (err) {
      error = err;
    }
  })();
  return {
    events,
    get confirmed() {
      return confirmed;
    },
    get error() {
      return error;
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}

/** A WebSocket subscriber that completes the handshake and then never reads: the slowest possible client. */
export async function stalledWsSubscriber(httpPort: number, pubsub: string, topic: string, token: string, filter?: string): Promise<Socket> {
  const socket = netConnect({ host: "127.0.0.1", port: httpPort });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET /v1.0-rapr/subscribe/${pubsub}/${topic}?token=${encodeURIComponent(token)}${filter ? `&filter=${encodeURIComponent(filter)}` : ""} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.once("data", () => resolve()));
  socket.pause();
  return socket;
}
