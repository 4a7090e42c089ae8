// The floor for bench/pubsub.ts: the least a process can do between an HTTP publisher, NATS JetStream and an HTTP
// app. POST /v1.0/publish/pubsub/{topic} -> JetStream publish (the body as is, no CloudEvent) -> 204; a durable
// pull consumer -> POST {APP_ROUTE} on the app over the same pooled keep-alive client rapr uses -> ack on 2xx.
// No routing, no envelope, no metrics, no policy. Env: PORT, APP_PORT, APP_ROUTE, NATS_URL, STREAM, TOPIC.
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectCoalesced } from "../plugins/pubsub.nats/connect.js";
import { Http1Pool } from "../src/app/http1-client.js";

const env = (k: string) => process.env[k] ?? (() => { throw new Error(`${k} is not set`); })();
const nc = await connectCoalesced({ servers: env("NATS_URL"), noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
const stream = env("STREAM");
const subject = env("TOPIC");
await jsm.streams.add({ name: stream, subjects: [subject] });
await jsm.consumers.add(stream, { durable_name: "relay", ack_policy: AckPolicy.Explicit, max_ack_pending: 1000 });
const messages = await (await js.consumers.get(stream, "relay")).consume({ max_messages: 1000 });
const app = new Http1Pool("127.0.0.1", Number(env("APP_PORT")));
const route = env("APP_ROUTE");
const headers: [string, string][] = [["content-type", "application/json"]];

void (async () => {
  for await (const m of messages) {
    app.request({ method: "POST", target: route, headers, body: m.data }).then(
      (r) => (r.status < 300 ? m.ack() : m.nak()),
      () => m.nak(),
    );
  }
})();

Bun.serve({
  port: Number(env("PORT")),
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method === "GET") return new Response("ok");
    await js.publish(subject, new Uint8Array(await req.arrayBuffer()));
    return new Response(null, { status: 204 });
  },
});

process.on("SIGTERM", () => process.exit(0)); // a clean exit, so --cpu-prof can write its profile
