// The bindings block in process, with fake plugins: what it refuses before a plugin is called, which failures
// its outbound policy retries and its circuit breaker counts, how `direction` and `route` are read, how input
// bindings start (retried until the app answers), wait for an unhealthy app, and stop (a delivery in flight
// finishes, one that hangs or backs off is cut off, and stop() never hangs), and how a gRPC app's answer is sent on.
import { afterAll, describe, expect, test } from "bun:test";
import { AppChannel } from "../../src/app/channel.js";
import { BindingsBlock, withCallerMetadata } from "../../src/blocks/bindings/bindings-block.js";
import { eventHeaders } from "../../src/blocks/bindings/delivery.js";
import type { ComponentSpec } from "../../src/components/component.js";
import {
  BindingRequestError, type BindingEventHandler, type BindingRequest, type BindingResponse,
} from "../../src/components/contracts/bindings.js";
import type { ComponentRegistry, LoadedComponent } from "../../src/components/registry.js";
import { DaprError } from "../../src/errors.js";
import { BindingEventResponse_BindingEventConcurrency } from "../../src/gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { silentLogger } from "../../src/observability/logger.js";
import { parseResiliency, Resiliency } from "../../src/resiliency/index.js";
import type { RuntimeConfig } from "../../src/runtime/config.js";
import { createServer, type Server } from "node:net";
import { waitFor } from "../support/ports.js";

const EMPTY = new Uint8Array(0);

function spec(name: string, type: string, metadata: Record<string, string> = {}, ignoreErrors = false): ComponentSpec {
  return { name, type, version: "v1", metadata: Object.entries(metadata).map(([n, value]) => ({ name: n, value })), ignoreErrors, scopes: [], source: `${name}.yaml#1` };
}

/** A registry holding these components; `resolved` stands for metadata values the registry read from a secret store. */
function registry(...components: ([ComponentSpec, object] | [ComponentSpec, object, Record<string, string>])[]): ComponentRegistry {
  const loaded = components.map(([s, instance, resolved]) => {
    const metadata = resolved ?? Object.fromEntries(s.metadata.map((m) => [m.name, m.value ?? ""]));
    return { spec: s, family: "bindings", instance, plugin: {}, metadata } as unknown as LoadedComponent;
  });
  const remove = (_family: string, name: string) => loaded.splice(loaded.findIndex((l) => l.spec.name === name), 1)[0];
  return { list: () => [...loaded], remove } as unknown as ComponentRegistry;
}

/** An output binding whose invoke runs `fn` and counts its calls. */
function output(fn: (req: BindingRequest) => Promise<BindingResponse> = async () => ({ data: EMPTY, metadata: {} })) {
  const plugin = { calls: 0, operations: () => ["create", "get"], invoke: (req: BindingRequest) => (plugin.calls++, fn(req)), close: async () => {} };
  return plugin;
}

/** An input binding that lets the test fire events; its reader's close waits for the events in flight, as the contract says. */
function input() {
  const inFlight = new Set<Promise<unknown>>();
  const plugin = {
    handler: undefined as BindingEventHandler | undefined,
    closed: false,
    fire(): Promise<Uint8Array> {
      const p = plugin.handler!({ data: EMPTY, metadata: {} });
      const tracked: Promise<void> = p.then(() => {}, () => {}).finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      return p;
    },
    read: async (h: BindingEventHandler) => {
      plugin.handler = h;
      return { close: async () => ((plugin.closed = true), void (await Promise.allSettled([...inFlight]))) };
    },
    close: async () => {},
  };
  return plugin;
}

function resiliency(outbound: Record<string, unknown>, inbound: Record<string, unknown> = {}): Resiliency {
  const components: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(outbound)) (components[k] ??= {}).outbound = v;
  for (const [k, v] of Object.entries(inbound)) (components[k] ??= {}).inbound = v;
  return new Resiliency([parseResiliency("r", {
    spec: {
      policies: {
        timeouts: { brief: "50ms" },
        retries: {
          thrice: { policy: "constant", duration: "1ms", maxRetries: 3 },
          patient: { policy: "constant", duration: "15s", maxRetries: 3 },
        },
        circuitBreakers: { trips: { maxRequests: 1, timeout: "30s", trip: "consecutiveFailures >= 3" } },
      },
      targets: { components },
    },
  }, "resiliency.yaml")]);
}

/** How a promise ended, as a string to compare. */
const outcome = (p: Promise<unknown>) => p.then(() => "resolved", (e: Error) => `rejected: ${e.message}`);

/** An app on 127.0.0.1: counts requests per method and path; `answer` decides each one (200 "taken" by default). */
function fakeApp(answer: (req: Request, path: string) => Response | Promise<Response> = () => new Response("taken"), port = 0) {
  const seen: { method: string; path: string }[] = [];
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      seen.push({ method: req.method, path });
      return answer(req, path);
    },
  });
  const count = (method: string, path: string) => seen.filter((s) => s.method === method && s.path === path).length;
  return { server, seen, count, port: server.port as number };
}

/** A port that accepts connections and closes them at once (an app still starting): counts them. */
async function refusingPort(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((socket) => (n++, socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function channelTo(port: number, extra: Partial<RuntimeConfig> = {}): AppChannel {
  const c = new AppChannel({ appId: "t", appPort: port, appProtocol: "http", appChannelAddress: "127.0.0.1", ...extra } as RuntimeConfig, silentLogger);
  cleanups.push(() => c.stop());
  return c;
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function failure(p: Promise<unknown>): Promise<DaprError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof DaprError)) throw new Error(`expected a DaprError, got ${String(err)}`);
  return err;
}

describe("output", () => {
  test("unknown names, input-only bindings, missing and unsupported operations are refused before the plugin runs", async () => {
    const out = output();
    const block = new BindingsBlock(registry([spec("out", "bindings.fake"), out], [spec("cron", "bindings.tick"), input()]), silentLogger);
    const cases: [string, string, string][] = [
      ["nope", "get", "error invoking output binding nope: couldn't find output binding nope (output bindings: out)"],
      ["cron", "create", "error invoking output binding cron: binding cron (bindings.tick) is not an output binding; its direction is input only"],
      ["out", "", "error invoking output binding out: operation field is missing from request"],
      ["out", "list", "error invoking output binding out: binding out does not support operation list; supported operations: create, get"],
    ];
    for (const [name, op, message] of cases) {
      const err = await failure(block.invoke(name, op, EMPTY, {}));
      expect({ code: err.errorCode, status: err.httpStatus, message: err.message }).toEqual({ code: "ERR_INVOKE_OUTPUT_BINDING", status: 500, message });
    }
    expect(out.calls).toBe(0);
  });

  test("direction output on a binding that also reads: the app may call it, it is never read", async () => {
    const both = { ...output(), ...input() };
    const block = new BindingsBlock(registry([spec("both", "bindings.fake", { Direction: "output" }), both]), silentLogger);
    expect(block.capabilities("both")).toEqual(["OUTPUT_BINDING"]);
    expect(block.inputBindings()).toEqual([]);
  });

  test("a BindingRequestError is not retried under the outbound retry policy; other errors are", async () => {
    const bad = output(async () => {
      throw new BindingRequestError('metadata "fileName" is required');
    });
    const down = output(async () => {
      throw new Error("backend down");
    });
    const block = new BindingsBlock(registry([spec("bad", "bindings.fake"), bad], [spec("down", "bindings.fake"), down]), silentLogger, resiliency({ bad: { retry: "thrice" }, down: { retry: "thrice" } }));
    expect((await failure(block.invoke("bad", "get", EMPTY, {}))).message).toBe('error invoking output binding bad: metadata "fileName" is required');
    expect(bad.calls).toBe(1);
    expect((await failure(block.invoke("down", "get", EMPTY, {}))).message).toBe("error invoking output binding down: backend down");
    expect(down.calls).toBe(4);
  });

  test("a resiliency timeout aborts the plugin's signal; the caller's signal reaches the plugin too", async () => {
    let seen: AbortSignal | undefined;
    const hangs = output((req) => new Promise((_, reject) => {
      seen = req.signal;
      req.signal?.addEventListener("abort", () => reject(req.signal!.reason), { once: true });
    }));
    const block = new BindingsBlock(registry([spec("hangs", "bindings.fake"), hangs]), silentLogger, resiliency({ hangs: { timeout: "brief" } }));
    const err = await failure(block.invoke("hangs", "get", EMPTY, {}));
    expect(err.message).toContain("no answer within the resiliency timeout of 50 ms");
    expect(seen?.aborted).toBe(true);
    const caller = new AbortController();
    const plain = new BindingsBlock(registry([spec("hangs", "bindings.fake"), hangs]), silentLogger);
    const pending = failure(plain.invoke("hangs", "get", EMPTY, {}, caller.signal));
    caller.abort(new Error("the caller left"));
    expect((await pending).message).toBe("error invoking output binding hangs: the caller left");
  });

  test("a caller who leaves during an outbound retry backoff ends the call at once, with no further attempt", async () => {
    const down = output(async () => {
      throw new Error("backend down");
    });
    const block = new BindingsBlock(registry([spec("down", "bindings.fake"), down]), silentLogger, resiliency({ down: { retry: "patient" } }));
    const caller = new AbortController();
    const started = performance.now();
    const pending = failure(block.invoke("down", "get", EMPTY, {}, caller.signal));
    await waitFor(() => down.calls === 1, "the first attempt");
    await new Promise((resolve) => setImmediate(resolve)); // its failure is handled: the backoff has begun
    caller.abort(new Error("the caller left"));
    expect((await pending).message).toBe("error invoking output binding down: backend down");
    expect(performance.now() - started).toBeLessThan(5_000); // the backoff is 15 s
    expect(down.calls).toBe(1);
  });

  test("callers who leave do not count in the circuit breaker; three real failures open it", async () => {
    let mode: "slow" | "down" = "slow";
    const backend = output((req) => {
      if (mode === "down") return Promise.reject(new Error("backend down"));
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve({ data: new Uint8Array([1]), metadata: {} }), 200);
        req.signal?.addEventListener("abort", () => (clearTimeout(t), reject(req.signal!.reason)), { once: true });
      });
    });
    const block = new BindingsBlock(registry([spec("b", "bindings.fake"), backend]), silentLogger, resiliency({ b: { circuitBreaker: "trips" } }));
    for (let i = 0; i < 3; i++) {
      const caller = new AbortController();
      const pending = failure(block.invoke("b", "get", EMPTY, {}, caller.signal));
      await waitFor(() => backend.calls === i + 1, "the call to reach the binding");
      caller.abort(new Error("the caller left"));
      expect((await pending).message).toBe("error invoking output binding b: the caller left");
    }
    expect((await block.invoke("b", "get", EMPTY, {}))?.data).toEqual(new Uint8Array([1]));
    mode = "down";
    for (let i = 0; i < 3; i++) await failure(block.invoke("b", "get", EMPTY, {}));
    const calls = backend.calls;
    expect((await failure(block.invoke("b", "get", EMPTY, {}))).message).toContain("is open");
    expect(backend.calls).toBe(calls);
  });
});

describe("the caller's headers in an output call's metadata", () => {
  const headers = new Headers({
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "k=v", "x-tenant": "blue",
    "dapr-api-token": "secret", "content-type": "application/grpc", "user-agent": "grpc-node-js/1.0", te: "trailers",
    "grpc-timeout": "5S", "grpc-accept-encoding": "gzip", "connect-protocol-version": "1", "trace-bin": "AAEC", "accept-encoding": "gzip",
  });

  test("over HTTP only the trace context is added; over gRPC every entry but the token and the transport's own", () => {
    expect(withCallerMetadata({ sql: "SELECT 1" }, headers, "http")).toEqual({
      sql: "SELECT 1", traceparent: headers.get("traceparent")!, tracestate: "k=v",
    });
    expect(withCallerMetadata({ sql: "SELECT 1" }, headers, "grpc")).toEqual({
      sql: "SELECT 1", traceparent: headers.get("traceparent")!, tracestate: "k=v", "x-tenant": "blue",
    });
  });

  test("the request's own metadata wins over a header of the same name", () => {
    expect(withCallerMetadata({ "x-tenant": "red", traceparent: "mine" }, headers, "grpc")).toMatchObject({ "x-tenant": "red", traceparent: "mine" });
  });
});

describe("direction and route", () => {
  const cases: [string, Record<string, string>, object, string][] = [
    ["a direction that is not input or output", { direction: "inbound" }, output(), 'metadata field "direction": must be "input", "output" or "input, output", got "inbound"'],
    ["input on an output-only plugin", { direction: "input" }, output(), 'metadata field "direction": "input" does not fit bindings.fake, which is an output binding only'],
    ["a route that is not a URL path", { route: "/has space" }, input(), 'metadata field "route": must be a URL path such as "/orders", got "/has space"'],
  ];
  for (const [what, metadata, plugin, message] of cases) {
    test(`${what} stops the block, naming the file and the field`, () => {
      expect(() => new BindingsBlock(registry([spec("b", "bindings.fake", metadata), plugin]), silentLogger)).toThrow(
        `b.yaml#1: component "b" (bindings.fake/v1): ${message}`,
      );
    });
  }

  test("with spec.ignoreErrors the binding is left out instead: closed, and taken out of the registry", async () => {
    let closed = false;
    const plugin = { ...output(), close: async () => void (closed = true) };
    const reg = registry([spec("b", "bindings.fake", { direction: "sideways" }, true), plugin]);
    const block = new BindingsBlock(reg, silentLogger);
    expect(block.capabilities("b")).toBeUndefined();
    await waitFor(() => closed, "the ignored binding to be closed", 1_000);
    expect(reg.list("bindings")).toEqual([]); // no longer listed, pinged by /healthz/outbound, or closed twice
  });

  test("direction and route are read from the resolved metadata: a secretKeyRef counts", () => {
    const s = spec("secretive", "bindings.fake");
    s.metadata = [
      { name: "route", secretKeyRef: { name: "routes", key: "secretive" } },
      { name: "Direction", secretKeyRef: { name: "routes", key: "direction" } },
    ];
    const block = new BindingsBlock(registry([s, { ...output(), ...input() }, { route: "/from/secret", Direction: "input" }]), silentLogger);
    expect(block.inputBindings().map((b) => [b.route, b.inputDeclared])).toEqual([["from/secret", true]]);
    expect(block.capabilities("secretive")).toEqual(["INPUT_BINDING"]);
  });

  test("route defaults to the name; a leading slash is dropped; input, output both count", () => {
    const block = new BindingsBlock(registry(
      [spec("plain", "bindings.fake"), input()],
      [spec("routed", "bindings.fake", { route: "//in/orders", direction: "input, output" }), { ...output(), ...input() }],
    ), silentLogger);
    expect(block.inputBindings().map((b) => [b.name, b.route, b.inputDeclared])).toEqual([["plain", "plain", false], ["routed", "in/orders", true]]);
    expect(block.capabilities("routed")).toEqual(["INPUT_BINDING", "OUTPUT_BINDING"]);
  });
});

describe("event headers", () => {
  test("metadata that cannot be an HTTP header is left out: control characters and characters above U+00FF", () => {
    const headers = eventHeaders({ data: EMPTY, metadata: { latin: "café", cjk: "日本", emoji: "😀", ctl: "a\u0001b", "bad name": "x", ok: "plain" } });
    expect(headers).toEqual({ latin: "café", ok: "plain", "content-type": "application/json" });
    const h = new Headers();
    for (const [k, v] of Object.entries(headers)) h.set(k, v); // what fetch() to an https app does with them
  });
});

describe("starting input bindings", () => {
  test("an app that is not up yet is asked again with backoff until it answers; then the binding starts", async () => {
    const starting = await refusingPort();
    const cron = input();
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake"), cron]), silentLogger);
    const done = block.startInputs(channelTo(starting.port), new AbortController().signal);
    // More attempts than the three the sidecar used to make before it gave up for good.
    await waitFor(() => starting.connections() >= 4, "the sidecar to ask again and again", 10_000);
    await starting.close();
    const app = fakeApp(() => new Response("yes"), starting.port);
    cleanups.push(() => app.server.stop(true));
    await waitFor(() => cron.handler, "the binding to start once the app answers", 15_000);
    await done;
    expect(app.count("OPTIONS", "/cron")).toBe(1);
    await block.stop();
  });

  test("a read() that fails is tried again; an app that says no (404) is asked once", async () => {
    const app = fakeApp((_, path) => new Response(null, { status: path === "/unheard" ? 404 : 200 }));
    cleanups.push(() => app.server.stop(true));
    let reads = 0;
    const flaky = input();
    const firstFails = { ...flaky, read: async (h: BindingEventHandler) => (++reads === 1 ? Promise.reject(new Error("backend not reachable yet")) : flaky.read(h)) };
    const unheard = input();
    const block = new BindingsBlock(registry([spec("flaky", "bindings.fake"), firstFails], [spec("unheard", "bindings.fake"), unheard]), silentLogger);
    await block.startInputs(channelTo(app.port), new AbortController().signal);
    expect(reads).toBe(2);
    expect(flaky.handler).toBeDefined();
    expect(unheard.handler).toBeUndefined();
    expect(app.count("OPTIONS", "/unheard")).toBe(1);
    await block.stop();
  });

  test("stop() ends the retries of a binding that never started", async () => {
    const refusing = await refusingPort();
    cleanups.push(() => refusing.close());
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake"), input()]), silentLogger);
    const stop = new AbortController();
    const starting = block.startInputs(channelTo(refusing.port), stop.signal);
    await waitFor(() => refusing.connections() >= 1, "a first attempt");
    const started = performance.now();
    stop.abort();
    await block.stop();
    await starting;
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("an unhealthy app", () => {
  test("holds events back until it is healthy again, instead of refusing them", async () => {
    let healthy = true;
    let probes = 0;
    const app = fakeApp((_, path) => {
      if (path === "/healthz") return probes++, new Response(null, { status: healthy ? 204 : 503 });
      return new Response("taken");
    });
    cleanups.push(() => app.server.stop(true));
    const channel = channelTo(app.port, { enableAppHealthCheck: true, appHealthCheckPath: "/healthz", appHealthProbeIntervalMs: 20, appHealthProbeTimeoutMs: 500, appHealthThreshold: 1 });
    const cron = input();
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake", { direction: "input" }), cron]), silentLogger);
    await block.startInputs(channel, new AbortController().signal);
    channel.startHealthChecks();
    healthy = false;
    await waitFor(() => !channel.isHealthy(), "the app to be found unhealthy");
    const delivery = outcome(cron.fire());
    const seenProbes = probes;
    await waitFor(() => probes >= seenProbes + 3, "three more probes");
    expect(app.count("POST", "/cron")).toBe(0);
    healthy = true;
    expect(await delivery).toBe("resolved");
    expect(app.count("POST", "/cron")).toBe(1);
    // An event waiting for the app ends when the sidecar stops.
    healthy = false;
    await waitFor(() => !channel.isHealthy(), "the app to be found unhealthy again");
    const held = outcome(cron.fire());
    await block.stop();
    expect(await held).toBe("rejected: input binding cron: the sidecar is stopping");
    expect(app.count("POST", "/cron")).toBe(1);
  });
});

describe("a gRPC app's answer naming output bindings (to)", () => {
  const data = new TextEncoder().encode('{"done":true}');

  /** A gRPC app channel stand-in whose OnBindingEvent answers with `to` and `data`. */
  function grpcApp(to: string[], concurrency: BindingEventResponse_BindingEventConcurrency) {
    const callback = {
      listInputBindings: async () => ({ bindings: [] }),
      onBindingEvent: async () => ({ data, to, concurrency, storeName: "", states: [] }),
    };
    return { protocol: "grpc", configured: true, callback, isHealthy: () => true, onHealthChange() {}, run: <T>(fn: () => Promise<T>) => fn() } as unknown as AppChannel;
  }

  test("goes to each with operation create, one after the other, before the event is handled; a failure ends the chain", async () => {
    const order: string[] = [];
    const first = output(async (req) => (order.push(`first:${req.operation}:${new TextDecoder().decode(req.data)}`), { data: EMPTY, metadata: {} }));
    const second = output(async () => (order.push("second"), { data: EMPTY, metadata: {} }));
    const cron = input();
    const block = new BindingsBlock(registry(
      [spec("cron", "bindings.fake", { direction: "input" }), cron], [spec("first", "bindings.fake"), first], [spec("second", "bindings.fake"), second],
    ), silentLogger);
    await block.startInputs(grpcApp(["first", "missing", "second"], BindingEventResponse_BindingEventConcurrency.SEQUENTIAL), new AbortController().signal);
    expect(new TextDecoder().decode(await cron.fire())).toBe('{"done":true}');
    expect(order).toEqual(['first:create:{"done":true}']);
    expect(second.calls).toBe(0);
    await block.stop();
  });

  test("with concurrency PARALLEL the event is handled at once, and stop() waits for the sends", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = output(async () => (await held, { data: EMPTY, metadata: {} }));
    const fast = output();
    const cron = input();
    const block = new BindingsBlock(registry(
      [spec("cron", "bindings.fake", { direction: "input" }), cron], [spec("slow", "bindings.fake"), slow], [spec("fast", "bindings.fake"), fast],
    ), silentLogger);
    await block.startInputs(grpcApp(["slow", "fast"], BindingEventResponse_BindingEventConcurrency.PARALLEL), new AbortController().signal);
    await cron.fire();
    expect(slow.calls).toBe(1);
    await waitFor(() => fast.calls === 1, "the second send");
    const stopping = outcome(block.stop(5_000));
    expect(await Promise.race([stopping, Bun.sleep(100).then(() => "still waiting")])).toBe("still waiting");
    release();
    expect(await stopping).toBe("resolved");
  });
});

describe("stop", () => {
  let answerAfterMs = 0;
  let status = 200;
  const app = fakeApp(async (req) => {
    if (req.method === "POST") await Bun.sleep(answerAfterMs);
    return new Response(status === 200 ? "taken" : "no", { status });
  });
  afterAll(() => app.server.stop(true));
  const posts = () => app.count("POST", "/cron");

  test("waits for a delivery in flight before it resolves, and refuses new events", async () => {
    answerAfterMs = 200;
    status = 200;
    const cron = input();
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake", { direction: "input" }), cron]), silentLogger);
    await block.startInputs(channelTo(app.port), new AbortController().signal);
    const before = posts();
    const delivery = cron.fire();
    await waitFor(() => posts() > before, "the event to reach the app");
    const started = performance.now();
    await block.stop();
    expect(performance.now() - started).toBeGreaterThan(100);
    expect(new TextDecoder().decode(await delivery)).toBe("taken");
    expect(cron.closed).toBe(true);
    expect(await cron.fire().then(() => "delivered", (e: Error) => e.message)).toBe("input binding cron: the sidecar is stopping");
  });

  test("cuts off a delivery that outlasts the grace period", async () => {
    answerAfterMs = 5_000;
    status = 200;
    const cron = input();
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake", { direction: "input" }), cron]), silentLogger);
    await block.startInputs(channelTo(app.port), new AbortController().signal);
    const before = posts();
    const delivery = cron.fire().then(() => "delivered", (e: Error) => e.message);
    await waitFor(() => posts() > before, "the event to reach the app");
    const started = performance.now();
    await block.stop(100);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await delivery).toContain("did not answer POST /cron");
  });

  test("cuts off an inbound retry backoff: stop() returns within the grace", async () => {
    answerAfterMs = 0;
    status = 500;
    const cron = input();
    const block = new BindingsBlock(registry([spec("cron", "bindings.fake", { direction: "input" }), cron]), silentLogger, resiliency({}, { cron: { retry: "patient" } }));
    await block.startInputs(channelTo(app.port), new AbortController().signal);
    const before = posts();
    const delivery = outcome(cron.fire());
    await waitFor(() => posts() > before, "the first attempt");
    const started = performance.now();
    await block.stop(200);
    expect(performance.now() - started).toBeLessThan(1_500); // the backoff is 15 s
    expect(await delivery).toStartWith("rejected: input binding cron: the app answered POST /cron with 500");
    expect(posts()).toBe(before + 1);
  }, 5_000);

  test("a reader whose close() never ends does not hold stop() forever", async () => {
    const stuck = { ...input(), read: async () => ({ close: () => new Promise<void>(() => {}) }) };
    const block = new BindingsBlock(registry([spec("stuck", "bindings.fake", { direction: "input" }), stuck]), silentLogger);
    await block.startInputs(channelTo(app.port), new AbortController().signal);
    const started = performance.now();
    await block.stop(100, 100);
    expect(performance.now() - started).toBeLessThan(1_500);
  }, 5_000);
});
