// gRPC proxying benchmark: a native gRPC client (@grpc/grpc-js) → sidecar A → sidecar B (mTLS) → the app's own
// gRPC service, next to the same client → app direct, in one run:
//   bun bench/grpc-proxy.ts [--calls 3000] [--messages 20000] [--payload 1024]
// - unary: one call at a time, the paths alternating; p50/p90/p99 and the latency the sidecars add;
// - bidi ping-pong: one open Chat stream per path, one message at a time, each awaiting its echo;
// - server streaming: one Count call of --messages messages per path; messages per second and the ratio to direct.
// Needs dist/rapr (bun run build). Traffic stays on 127.0.0.1.
import * as grpc from "@grpc/grpc-js";
import { newCluster, uid, waitForApp } from "../test/invoke/support.js";
import { flagNumber } from "./flags.js";
import { percentile } from "./measure.js";

const calls = flagNumber("calls", 3000);
const messages = flagNumber("messages", 20000);
const payload = Buffer.alloc(flagNumber("payload", 1024), 97);
const raw = (b: Buffer) => b;

const cluster = newCluster("bench-grpc-proxy");
try {
  const appId = `bench-grpc-${uid()}`;
  const [front, back] = await Promise.all([cluster.start({ appId: `bench-front-${uid()}` }), cluster.start({ appId, app: "invoke-grpc-app.ts", appProtocol: "grpc" })]);
  await waitForApp(front, appId, "ready", { method: "POST", body: "{}" });
  const md = new grpc.Metadata();
  md.set("dapr-app-id", appId);
  const paths = [
    { name: "direct", client: new grpc.Client(`127.0.0.1:${back.appPort}`, grpc.credentials.createInsecure()), md: new grpc.Metadata() },
    { name: "via two sidecars", client: new grpc.Client(`127.0.0.1:${front.grpcPort}`, grpc.credentials.createInsecure()), md },
  ];
  const [direct, via] = paths as [(typeof paths)[0], (typeof paths)[0]];

  const unary = (p: typeof direct) =>
    new Promise<void>((resolve, reject) => p.client.makeUnaryRequest("/test.Echo/Say", raw, raw, payload, p.md, (err) => (err ? reject(err) : resolve())));
  const unaryLat = paths.map(() => [] as number[]);
  for (let i = 0; i < calls + 300; i++) {
    for (let k = 0; k < paths.length; k++) {
      const j = (i + k) % paths.length;
      const t0 = performance.now();
      await unary(paths[j]!);
      if (i >= 300) unaryLat[j]!.push(performance.now() - t0); // the first 300 warm up
    }
  }

  const chats = paths.map((p) => {
    const call = p.client.makeBidiStreamRequest("/test.Echo/Chat", raw, raw, p.md);
    let wake: (() => void) | undefined;
    call.on("data", () => wake?.());
    return { call, roundTrip: () => new Promise<void>((resolve) => ((wake = resolve), call.write(payload))) };
  });
  const chatLat = paths.map(() => [] as number[]);
  for (let i = 0; i < calls + 300; i++) {
    for (let k = 0; k < paths.length; k++) {
      const j = (i + k) % paths.length;
      const t0 = performance.now();
      await chats[j]!.roundTrip();
      if (i >= 300) chatLat[j]!.push(performance.now() - t0);
    }
  }
  for (const c of chats) c.call.end();

  const count = (p: typeof direct) =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      let n = 0;
      const call = p.client.makeServerStreamRequest("/test.Echo/Count", raw, raw, Buffer.from(String(messages)), p.md);
      call.on("data", () => n++);
      call.on("error", reject);
      call.on("end", () => (n === messages ? resolve(messages / ((performance.now() - t0) / 1000)) : reject(new Error(`${n} of ${messages} messages`))));
    });
  const rates = [await count(direct), await count(via), await count(direct), await count(via)];
  const directRate = Math.max(rates[0]!, rates[2]!);
  const viaRate = Math.max(rates[1]!, rates[3]!);

  const f = (x: number) => x.toFixed(3).padStart(8);
  const row = (name: string, l: number[]) => `${name.padEnd(34)}${f(percentile(l, 50))}${f(percentile(l, 90))}${f(percentile(l, 99))}`;
  const added = (name: string, over: number[], base: number[]) =>
    `${name.padEnd(34)}${f(percentile(over, 50) - percentile(base, 50))}${f(percentile(over, 90) - percentile(base, 90))}${f(percentile(over, 99) - percentile(base, 99))}`;
  const l = [...unaryLat, ...chatLat].map((x) => x.sort((a, b) => a - b));
  console.log(`\nrapr gRPC proxy bench: ${payload.length} B messages, ${calls} each, one at a time, mTLS on, Bun ${Bun.version}`);
  console.log(`${"".padEnd(34)}${"p50 ms".padStart(8)}${"p90 ms".padStart(8)}${"p99 ms".padStart(8)}`);
  console.log(row("unary, direct", l[0]!));
  console.log(row("unary, via two sidecars", l[1]!));
  console.log(added("  added by the sidecars", l[1]!, l[0]!));
  console.log(row("bidi round trip, direct", l[2]!));
  console.log(row("bidi round trip, via two sidecars", l[3]!));
  console.log(added("  added by the sidecars", l[3]!, l[2]!));
  console.log(`server streaming (${messages} messages, best of 2): direct ${directRate.toFixed(0)}/s, via two sidecars ${viaRate.toFixed(0)}/s (${(viaRate / directRate).toFixed(2)}x of direct)`);
  for (const p of paths) p.client.close();
} finally {
  await cluster.stopAll();
}
