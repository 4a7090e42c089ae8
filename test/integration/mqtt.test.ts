// MQTT through the compiled binary and the official Dapr SDK, against a real Mosquitto: pubsub.mqtt3 with QoS 1 and a
// wildcard subscription, two sidecars of one consumerID sharing the events, bindings.mqtt3 carrying a message from one
// sidecar's output binding to another's app, and a topic MQTT cannot take refused with Dapr's error.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { sdkClient } from "../support/dapr-sdk.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { resourcesDir, uniq } from "../pubsub/harness.js";
import { missing, MQTT_URL } from "../support/backends.js";
import { componentYaml } from "../support/components.js";

setDefaultTimeout(60_000);

const noMqtt = await missing("mqtt");
const RUN = uniq();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

/** An HTTP app in this process: declares `subs`, records what each path receives, answers SUCCESS. */
async function recordingApp(subs: unknown[]) {
  const port = await freePort();
  const got = new Map<string, unknown[]>();
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method === "GET" && path === "/dapr/subscribe") return Response.json(subs);
      if (req.method === "OPTIONS") return new Response(null, { status: 200 });
      if (req.method !== "POST") return new Response(null, { status: 404 });
      const list = got.get(path) ?? [];
      list.push(await req.json());
      got.set(path, list);
      return Response.json({ status: "SUCCESS" });
    },
  });
  cleanups.push(() => server.stop(true));
  return { port, got: (path: string) => got.get(path) ?? [] };
}

async function sidecar(appId: string, files: Record<string, string>, appPort?: number): Promise<Sidecar> {
  const sc = await startSidecar({ appId, args: ["--resources-path", resourcesDir(files), ...(appPort ? ["--app-port", String(appPort)] : [])] });
  cleanups.push(() => sc.stop());
  return sc;
}

const pubsubYaml = (consumerID?: string) => componentYaml("mqtt", "pubsub.mqtt3", { url: MQTT_URL, qos: "1", ...(consumerID ? { consumerID } : {}) });

describe.skipIf(noMqtt)("MQTT through the binary", () => {
  test("a wildcard subscription gets what another sidecar publishes; two sidecars of one consumerID share the events", async () => {
    const subs = [{ pubsubname: "mqtt", topic: `rapr-it/${RUN}/+/temp`, route: "/temp" }];
    const a = await recordingApp(subs);
    const b = await recordingApp(subs);
    const workers = `workers-${RUN}`;
    const sa = await sidecar(`mqtt-a-${RUN}`, { "pubsub.yaml": pubsubYaml(workers) }, a.port);
    const sb = await sidecar(`mqtt-b-${RUN}`, { "pubsub.yaml": pubsubYaml(workers) }, b.port);
    for (const s of [sa, sb]) {
      await waitFor(async () => ((await (await s.http("/v1.0/metadata")).json()) as any).subscriptions.length === 1, `${s.appId} subscribed`, 15_000);
    }
    const pub = await sidecar(`mqtt-pub-${RUN}`, { "pubsub.yaml": pubsubYaml() });
    const client = sdkClient(pub, CommunicationProtocolEnum.HTTP);
    const sent = Array.from({ length: 20 }, (_, i) => ({ room: `r${i % 4}`, n: i }));
    for (const e of sent) await client.pubsub.publish("mqtt", `rapr-it/${RUN}/${e.room}/temp`, e);
    await waitFor(() => a.got("/temp").length + b.got("/temp").length === sent.length, "every event delivered once", 20_000);
    const events = [...a.got("/temp"), ...b.got("/temp")] as any[];
    expect(events.map((e) => e.data.n).sort((x, y) => x - y)).toEqual(sent.map((e) => e.n));
    expect(events[0].topic).toMatch(new RegExp(`^rapr-it/${RUN}/r[0-3]/temp$`));
    expect(a.got("/temp").length).toBeGreaterThan(0); // the broker shares the group's events between both
    expect(b.got("/temp").length).toBeGreaterThan(0);
    await Bun.sleep(300);
    expect(a.got("/temp").length + b.got("/temp").length).toBe(sent.length);

    const md = (await (await pub.http("/v1.0/metadata")).json()) as any;
    expect(md.components).toContainEqual(expect.objectContaining({ name: "mqtt", type: "pubsub.mqtt3", capabilities: expect.arrayContaining(["SUBSCRIBE_WILDCARDS"]) }));
  });

  test("an input binding hands MQTT messages to its app; an output binding on another sidecar publishes them", async () => {
    const base = `rapr-it/${RUN}/devices`;
    const app = await recordingApp([]);
    await sidecar(`mqtt-in-${RUN}`, { "in.yaml": componentYaml("devices", "bindings.mqtt3", { url: MQTT_URL, topic: `${base}/#`, consumerID: `in-${RUN}`, direction: "input", cleanSession: "true" }) }, app.port);
    const out = await sidecar(`mqtt-out-${RUN}`, { "out.yaml": componentYaml("commands", "bindings.mqtt3", { url: MQTT_URL, topic: `${base}/lamp`, consumerID: `out-${RUN}`, direction: "output", cleanSession: "true" }) });
    const md = (await (await out.http("/v1.0/metadata")).json()) as any;
    expect(md.components).toContainEqual(expect.objectContaining({ name: "commands", type: "bindings.mqtt3" }));
    const client = sdkClient(out, CommunicationProtocolEnum.GRPC);
    // The input side subscribes once its app answers; publish until the first message arrives (bounded).
    await waitFor(async () => {
      await client.binding.send("commands", "create", { on: true });
      return app.got("/devices").length > 0;
    }, "a message through the bindings", 20_000);
    expect(app.got("/devices")[0]).toEqual({ on: true });
    await client.binding.send("commands", "create", { level: 3 }, { topic: `${base}/dimmer` });
    await waitFor(() => app.got("/devices").some((e: any) => e.level === 3), "the message published to the request's topic");
  });

  test("a topic MQTT cannot publish to is refused with Dapr's error, and the sidecar goes on publishing", async () => {
    const pub = await sidecar(`mqtt-bad-${RUN}`, { "pubsub.yaml": pubsubYaml() });
    const bad = await pub.http(`/v1.0/publish/mqtt/${encodeURIComponent("rapr-it/+/x")}`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(500);
    const err = (await bad.json()) as any;
    expect(err.errorCode).toBe("ERR_PUBSUB_PUBLISH_MESSAGE");
    expect(err.message).toContain("wildcard");
    const ok = await pub.http(`/v1.0/publish/mqtt/rapr-it/${RUN}/ok`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(ok.status).toBe(204);
  });
});
