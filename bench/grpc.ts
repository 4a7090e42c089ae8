// gRPC against HTTP on one sidecar, with the native load generator h2load (Debian's nghttp2-client) so the client
// is not the bottleneck, and the floors measured in the same run (bench/grpc-floor.ts).
//   bun bench/grpc.ts [--requests 20000] [--rounds 3] [--sdk-seconds 3] [--skip-sdk]
// Per operation (GetState, SaveState, PublishEvent, InvokeService): unary calls/s and p50/p99 over gRPC (4
// connections x 16 streams) and over HTTP/1.1 (64 connections), the two alternating round by round (medians).
// Floors: node:http2 answering a fixed gRPC message (the stack rapr's gRPC port runs on), Bun.serve answering a
// fixed message over HTTP/2 and HTTP/1.1. Then the official SDK (@dapr/dapr on Node, 16 save+get loops) over gRPC
// and over HTTP, against rapr and against the floors, alternating. Prints the load average before and after.
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Dapr } from "../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { GetStateRequestSchema, SaveStateRequestSchema } from "../src/gen/dapr/proto/runtime/v1/state_pb.js";
import { PublishEventRequestSchema } from "../src/gen/dapr/proto/runtime/v1/pubsub_pb.js";
import { InvokeServiceRequestSchema } from "../src/gen/dapr/proto/runtime/v1/invoke_pb.js";
import { freePort, waitFor } from "../test/support/ports.js";
import { startSidecar } from "../test/support/sidecar.js";
import { flagNumber, hasFlag } from "./flags.js";

const REQUESTS = flagNumber("requests", 20_000);
const ROUNDS = flagNumber("rounds", 3);
const SDK_SECONDS = flagNumber("sdk-seconds", 3);
const SDK_CLIENTS = 16;
const dir = mkdtempSync(join(tmpdir(), "rapr-bench-grpc-"));
const enc = new TextEncoder();

interface Load { rps: number; p50: number; p99: number }
interface Target { url: string; body?: string; headers: string[]; h1: boolean }

/** One h2load run; calls/s from its summary, p50/p99 (ms) from its per-request log. Any non-2xx answer fails the bench. */
async function h2load(t: Target, n: number): Promise<Load> {
  const log = join(dir, "h2load.log");
  const conn = t.h1 ? ["--h1", "-c", "64"] : ["-c", "4", "-m", "16"];
  const args = ["h2load", "-n", String(n), ...conn, `--log-file=${log}`, ...(t.body ? ["-d", t.body] : []), ...t.headers.flatMap((h) => ["-H", h]), t.url];
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const ok = /status codes: (\d+) 2xx/.exec(out);
  if (!ok || Number(ok[1]) !== n) throw new Error(`h2load ${t.url}: not every answer was 2xx\n${out}`);
  const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const durations = (await Bun.file(log).text()).trim().split("\n").map((l) => Number(l.split("\t")[2])).sort((a, b) => a - b);
  const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] / 1000;
  return { rps, p50: at(0.5), p99: at(0.99) };
}

async function bodyFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await Bun.write(path, bytes);
  return path;
}

function grpcEnvelope<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array {
  const message = toBinary(schema, create(schema, init));
  const out = new Uint8Array(message.length + 5);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

const GRPC_HEADERS = ["content-type: application/grpc", "te: trailers"];
const JSON_HEADERS = ["content-type: application/json"];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const medianLoad = (xs: Load[]): Load => ({ rps: median(xs.map((x) => x.rps)), p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) });

/** Runs the targets in alternating rounds after one warm-up each; the median of each. */
async function alternate(targets: Target[]): Promise<Load[]> {
  for (const t of targets) await h2load(t, Math.min(REQUESTS, 2000));
  const runs = targets.map(() => [] as Load[]);
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < targets.length; i++) runs[i].push(await h2load(targets[i], REQUESTS));
  return runs.map(medianLoad);
}

async function startFloor(kind: string): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const proc = Bun.spawn(["bun", join(import.meta.dir, "grpc-floor.ts"), kind, String(port)], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  await reader.read(); // "ready"
  return { port, stop: () => proc.kill() };
}

async function sdkPairs(port: number, protocol: "grpc" | "http"): Promise<number> {
  const driver = join(import.meta.dir, "drivers", "sdk-grpc-state.cjs");
  const proc = Bun.spawn(["node", driver, String(port), String(SDK_CLIENTS), String(SDK_SECONDS), protocol], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`SDK driver (${protocol}) failed: ${out}`);
  return Number(out.trim());
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`grpc bench: h2load, ${REQUESTS} calls per measurement, ${ROUNDS} alternating rounds (medians), ${navigator.hardwareConcurrency} cpus, load average ${load()}`);

const appPort = await freePort();
const sidecar = await startSidecar({
  args: ["--app-port", String(appPort)],
  env: { APP_PORT: String(appPort) },
  appCommand: ["bun", join(import.meta.dir, "invoke-app.ts")],
});
const floors = [await startFloor("node-http2"), await startFloor("bun-serve")];
try {
  await sidecar.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "k", value: { a: 1 } }]) });
  const grpcUrl = (m: string) => `http://127.0.0.1:${sidecar.grpcPort}/dapr.proto.runtime.v1.Dapr/${m}`;
  const httpUrl = (p: string) => `http://127.0.0.1:${sidecar.httpPort}${p}`;
  const payload = enc.encode(JSON.stringify({ a: 1, payload: "x".repeat(48) }));
  const getReq = { storeName: "statestore", key: "k" };
  const saveReq = { storeName: "statestore", states: [{ key: "k", value: payload }] };
  const publishReq = { pubsubName: "pubsub", topic: "orders", data: payload, dataContentType: "application/json" };
  const invokeReq = { id: sidecar.appId, message: { method: "echo", data: { value: payload }, contentType: "application/json" } };

  // Each gRPC request once through a real client first: h2load counts HTTP 200 as success whatever grpc-status says.
  const client = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
  if ((await client.getState(getReq)).data.length === 0) throw new Error("GetState: empty");
  await client.saveState(saveReq);
  await client.publishEvent(publishReq);
  await client.invokeService(invokeReq);
  await waitFor(async () => (await sidecar.http(`/v1.0/invoke/${sidecar.appId}/method/echo`, { method: "POST", body: "x" })).status === 200, "app");

  const ops = [
    { name: "GetState", grpc: { url: grpcUrl("GetState"), body: await bodyFile("get.bin", grpcEnvelope(GetStateRequestSchema, getReq)) }, http: { url: httpUrl("/v1.0/state/statestore/k") } },
    { name: "SaveState", grpc: { url: grpcUrl("SaveState"), body: await bodyFile("save.bin", grpcEnvelope(SaveStateRequestSchema, saveReq)) }, http: { url: httpUrl("/v1.0/state/statestore"), body: await bodyFile("save.json", enc.encode(JSON.stringify([{ key: "k", value: { a: 1, payload: "x".repeat(48) } }]))) } },
    { name: "PublishEvent", grpc: { url: grpcUrl("PublishEvent"), body: await bodyFile("publish.bin", grpcEnvelope(PublishEventRequestSchema, publishReq)) }, http: { url: httpUrl("/v1.0/publish/pubsub/orders"), body: await bodyFile("publish.json", payload) } },
    { name: "InvokeService", grpc: { url: grpcUrl("InvokeService"), body: await bodyFile("invoke.bin", grpcEnvelope(InvokeServiceRequestSchema, invokeReq)) }, http: { url: httpUrl(`/v1.0/invoke/${sidecar.appId}/method/echo`), body: await bodyFile("invoke.json", payload) } },
  ];
  const floorTargets: Target[] = [
    { url: `http://127.0.0.1:${floors[0].port}/floor`, body: ops[0].grpc.body, headers: GRPC_HEADERS, h1: false },
    { url: `http://127.0.0.1:${floors[1].port}/floor`, body: ops[0].grpc.body, headers: GRPC_HEADERS, h1: false },
    { url: `http://127.0.0.1:${floors[1].port}/floor`, headers: [], h1: true },
  ];
  const rows: { name: string; grpc: Load; http: Load; floor: Load }[] = [];
  for (const op of ops) {
    // The node:http2 floor in every round too, so each row's gRPC/floor has its floor from the same minutes.
    const [grpc, http, floor] = await alternate([{ ...op.grpc, headers: GRPC_HEADERS, h1: false }, { ...op.http, headers: op.http.body ? JSON_HEADERS : [], h1: true }, floorTargets[0]]);
    rows.push({ name: op.name, grpc, http, floor });
  }
  const [nodeH2, bunH2, bunH1] = await alternate(floorTargets);

  const f = (l: Load) => `${Math.round(l.rps).toString().padStart(7)}  ${l.p50.toFixed(2).padStart(5)} / ${l.p99.toFixed(2).padStart(6)}`;
  console.log("\n              gRPC calls/s  p50 / p99 ms     HTTP calls/s  p50 / p99 ms   gRPC/HTTP  floor calls/s  gRPC/floor");
  for (const r of rows) console.log(`${r.name.padEnd(14)} ${f(r.grpc)}      ${f(r.http)}      ${(r.grpc.rps / r.http.rps).toFixed(2)}x   ${Math.round(r.floor.rps).toString().padStart(8)}      ${(r.grpc.rps / r.floor.rps).toFixed(2)}x`);
  console.log(`floor: node:http2 fixed gRPC answer ${f(nodeH2)}`);
  console.log(`floor: Bun.serve HTTP/2 fixed answer ${f(bunH2)} (no trailers: not a gRPC server)`);
  console.log(`floor: Bun.serve HTTP/1.1 fixed answer ${f(bunH1)}`);

  if (!hasFlag("skip-sdk")) {
    // The SDK against the floors too: its Node client has a ceiling of its own, well below rapr's over gRPC.
    const cases: [string, number, "grpc" | "http"][] = [
      ["rapr gRPC", sidecar.grpcPort, "grpc"],
      ["rapr HTTP", sidecar.httpPort, "http"],
      ["floor gRPC (node:http2)", floors[0].port, "grpc"],
      ["floor HTTP (Bun.serve)", floors[1].port, "http"],
    ];
    for (const [, port, protocol] of cases) await sdkPairs(port, protocol);
    const pairs = cases.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < cases.length; i++) pairs[i].push(await sdkPairs(cases[i][1], cases[i][2]));
    const [g, h, fg, fh] = pairs.map(median);
    console.log(`SDK (@dapr/dapr on Node, ${SDK_CLIENTS} save+get loops), pairs/s: ${cases.map(([name], i) => `${name} ${Math.round(median(pairs[i]))}`).join(", ")}`);
    console.log(`SDK gRPC/HTTP ${(g / h).toFixed(2)}x; rapr/floor: gRPC ${(g / fg).toFixed(2)}x, HTTP ${(h / fh).toFixed(2)}x`);
  }
  console.log(`load average after: ${load()}`);
} finally {
  for (const fl of floors) fl.stop();
  await sidecar.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
