// One conformance suite for the bindings contract: every output binding plugin (a real PostgreSQL and a local
// HTTP server included) and every input binding plugin; then what each plugin promises beyond the contract.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import postgres from "postgres";
import bindingsCron, { CronBinding, type Clock } from "../../plugins/bindings.cron/index.js";
import { parseSchedule } from "../../plugins/bindings.cron/schedule.js";
import bindingsHttp from "../../plugins/bindings.http/index.js";
import bindingsMqtt3 from "../../plugins/bindings.mqtt3/index.js";
import bindingsLocalstorage from "../../plugins/bindings.localstorage/index.js";
import { mkdirInside, openInside } from "../../plugins/bindings.localstorage/paths.js";
import bindingsPostgresql, { bindingsPostgresAlias } from "../../plugins/bindings.postgresql/index.js";
import bindingsRedis from "../../plugins/bindings.redis/index.js";
import { parseConnectionString } from "../../plugins/bindings.postgresql/connection.js";
import { builtinPlugins } from "../../plugins/index.js";
import {
  BindingRequestError, isInputBinding, isOutputBinding, unsupportedOperation,
  type Binding, type BindingEvent, type BindingRequest, type BindingResponse, type InputBinding, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { goDuration, goUtcString, rfc3339Nano } from "../../src/components/go-format.js";
import { isTruthy, parseMetadata } from "../../src/components/metadata-schema.js";
import type { Component, ComponentPlugin, PluginContext } from "../../src/components/plugin.js";
import { silentLogger } from "../../src/observability/logger.js";
import { issueLeaf, loadOrCreateCa } from "../../src/security/ca.js";
import { freePort, waitFor } from "../support/ports.js";
import { missing, MQTT_URL, REDIS_HOST } from "../support/backends.js";
import { dropTable, PG_URL, uniqueTable } from "../support/postgres.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (r: BindingResponse) => dec.decode(r.data);
const json = (r: BindingResponse) => JSON.parse(text(r));
const scratch = mkdtempSync(join(tmpdir(), "rapr-conf-bindings-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Out = Component & OutputBinding;
type In = Component & InputBinding;

/** Every binding the tests create, closed at the end whatever the tests did (close() may be called again). */
const created: Component[] = [];
afterAll(async () => {
  await Promise.allSettled(created.map((b) => b.close()));
});

async function create(plugin: ComponentPlugin<any, any>, raw: Record<string, string>, dataDir = scratch, ctx: Partial<PluginContext> = {}): Promise<Binding> {
  const b = (await plugin.create(parseMetadata(plugin.metadata, raw), { name: "conformance", appId: "conformance", dataDir, logger: silentLogger, ...ctx })) as Binding;
  created.push(b);
  return b;
}
async function createOutput(plugin: ComponentPlugin<any, any>, raw: Record<string, string>, dataDir?: string, ctx?: Partial<PluginContext>): Promise<Out> {
  const b = await create(plugin, raw, dataDir, ctx);
  if (!isOutputBinding(b)) throw new Error(`${plugin.type} is not an output binding`);
  return b;
}
async function createInput(plugin: ComponentPlugin<any, any>, raw: Record<string, string>): Promise<In> {
  const b = await create(plugin, raw);
  if (!isInputBinding(b)) throw new Error(`${plugin.type} is not an input binding`);
  return b;
}
/** What create() rejects with, as text (parseMetadata's own refusals included). */
async function initError(plugin: ComponentPlugin<any, any>, raw: Record<string, string>, dataDir?: string): Promise<string> {
  try {
    const b = await create(plugin, raw, dataDir);
    await b.close();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${plugin.type} accepted ${JSON.stringify(raw)}`);
}
const req = (operation: string, metadata: Record<string, string> = {}, data: string | Uint8Array = ""): BindingRequest => ({
  operation,
  metadata,
  data: typeof data === "string" ? enc.encode(data) : data,
});
/** Asserts that `pending` rejects as an abort: with the signal's reason, or an AbortError. */
async function expectAbort(pending: Promise<unknown>, signal: AbortSignal): Promise<void> {
  const err = await pending.then(
    () => new Error("resolved, but an abort was expected"),
    (e: unknown) => e,
  );
  if (err !== signal.reason) expect((err as Error).name).toBe("AbortError");
}
/** What a promise rejects with (fails the test when it resolves). */
async function rejection(pending: Promise<unknown>): Promise<Error> {
  const err = await pending.then(() => undefined, (e: unknown) => e as Error);
  if (!err) throw new Error("resolved, but a rejection was expected");
  return err;
}

// ---------------------------------------------------------------------------------------------------------------
// A local HTTP backend for bindings.http: /echo/* answers with what it received, /status/{n} with that status,
// …/slow after 3 s, /big with 1000 bytes, /gzip with a gzip-encoded text.

let backend: ReturnType<typeof Bun.serve>;
let backendUrl: string;
beforeAll(() => {
  backend = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(r) {
      const url = new URL(r.url);
      if (url.pathname.startsWith("/status/")) return new Response(`status body ${url.pathname}`, { status: Number(url.pathname.slice(8)) });
      if (url.pathname.endsWith("/slow")) {
        await Bun.sleep(3000);
        return new Response("late");
      }
      if (url.pathname === "/big") return new Response("x".repeat(1000));
      if (url.pathname === "/gzip") {
        const body = gzipSync("hello compressed world");
        return new Response(body, { headers: { "Content-Encoding": "gzip", "Content-Length": String(body.byteLength), "Content-Type": "text/plain" } });
      }
      const echo = { method: r.method, path: url.pathname + url.search, headers: Object.fromEntries(r.headers), body: await r.text() };
      return Response.json(echo, { headers: { "X-Echo": "yes", "Set-Cookie": "a=1" } });
    },
  });
  backendUrl = `http://127.0.0.1:${backend.port}`;
});
afterAll(() => backend.stop(true));

// ---------------------------------------------------------------------------------------------------------------
// Output bindings: the subject table. Each subject says which operations its round trip covers, the round trip
// itself, a valid request (for abort tests) and, where the backend can be slow, a request that takes seconds.

interface OutputSubject {
  binding: Out;
  roundTripOperations: string[];
  roundTrip(b: Out): Promise<void>;
  validRequest(): BindingRequest;
  slowRequest?(): BindingRequest;
  cleanup(): Promise<void>;
}

const outputSubjects: [string, () => Promise<OutputSubject>][] = [
  ["bindings.localstorage", async () => {
    const dataDir = mkdtempSync(join(scratch, "ls-"));
    const binding = await createOutput(bindingsLocalstorage, { rootPath: "files" }, dataDir);
    return {
      binding,
      roundTripOperations: ["create", "get", "list", "delete"],
      async roundTrip(b) {
        const named = await b.invoke(req("create", { fileName: "dir/a.txt" }, "hello"));
        expect(json(named)).toEqual({ fileName: "dir/a.txt" });
        const generated = json(await b.invoke(req("create", {}, "second"))).fileName as string;
        expect(generated).toMatch(/^[0-9a-f-]{36}$/);
        expect(text(await b.invoke(req("get", { fileName: "dir/a.txt" })))).toBe("hello");
        expect(text(await b.invoke(req("get", { fileName: generated })))).toBe("second");
        expect(json(await b.invoke(req("list")))).toEqual(["dir/a.txt", generated].sort());
        // rootPath "files" is relative to the data dir.
        expect(readFileSync(join(dataDir, "files", "dir", "a.txt"), "utf8")).toBe("hello");
        await b.invoke(req("delete", { fileName: "dir/a.txt" }));
        await b.invoke(req("delete", { fileName: generated }));
        expect(json(await b.invoke(req("list")))).toEqual([]);
        await expect(b.invoke(req("get", { fileName: "dir/a.txt" }))).rejects.toThrow('file "dir/a.txt" not found');
      },
      validRequest: () => req("list"),
      async cleanup() {
        await binding.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }],
  ["bindings.postgresql", async () => {
    const table = uniqueTable("conf_bind");
    const binding = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "2" });
    return {
      binding,
      roundTripOperations: ["exec", "query"],
      async roundTrip(b) {
        await b.invoke(req("exec", { sql: `CREATE TABLE "${table}" (id int PRIMARY KEY, name text, score float8)` }));
        const inserted = await b.invoke(req("exec", { sql: `INSERT INTO "${table}" VALUES ($1, $2, $3), ($4, $5, $6)`, params: '[1, "ann", 1.5, 2, "bob", null]' }));
        expect(inserted.metadata["rows-affected"]).toBe("2");
        const rows = await b.invoke(req("query", { sql: `SELECT id, name, score FROM "${table}" WHERE id >= $1 ORDER BY id`, params: "[1]" }));
        expect(json(rows)).toEqual([[1, "ann", 1.5], [2, "bob", null]]);
        await b.invoke(req("exec", { sql: `DROP TABLE "${table}"` }));
        await expect(b.invoke(req("query", { sql: `SELECT * FROM "${table}"` }))).rejects.toThrow("does not exist");
      },
      validRequest: () => req("query", { sql: "SELECT 1" }),
      slowRequest: () => req("query", { sql: "SELECT pg_sleep(5)" }),
      async cleanup() {
        await binding.close();
        await dropTable(table);
      },
    };
  }],
  ["bindings.http", async () => {
    const binding = await createOutput(bindingsHttp, { url: `${backendUrl}/echo` });
    return {
      binding,
      roundTripOperations: ["post", "get", "create", "put", "delete"],
      async roundTrip(b) {
        const posted = await b.invoke(req("post", { path: "items", "X-Test": "1" }, '{"n":1}'));
        expect(json(posted)).toMatchObject({ method: "POST", path: "/echo/items", body: '{"n":1}', headers: { "x-test": "1" } });
        expect(posted.metadata.statusCode).toBe("200");
        const got = await b.invoke(req("get", { path: "/items/1?full=true" }));
        expect(json(got)).toMatchObject({ method: "GET", path: "/echo/items/1?full=true", body: "" });
        expect(json(await b.invoke(req("create", {}, "c")))).toMatchObject({ method: "POST", body: "c" });
        expect(json(await b.invoke(req("put", {}, "p")))).toMatchObject({ method: "PUT", body: "p" });
        expect(json(await b.invoke(req("delete")))).toMatchObject({ method: "DELETE" });
      },
      validRequest: () => req("get"),
      slowRequest: () => req("get", { path: "/slow" }),
      cleanup: () => binding.close(),
    };
  }],
  ["bindings.mqtt3", async () => {
    const topic = `rapr-conf/${crypto.randomUUID()}`;
    const binding = await createOutput(bindingsMqtt3, { url: MQTT_URL, topic, consumerID: `conf-${crypto.randomUUID()}`, cleanSession: "true" });
    return {
      binding,
      roundTripOperations: ["create"],
      async roundTrip(b) {
        const got: BindingEvent[] = [];
        const reader = await createInput(bindingsMqtt3, { url: MQTT_URL, topic: `${topic}/#`, consumerID: `conf-${crypto.randomUUID()}`, cleanSession: "true" });
        const r = await reader.read(async (e) => (got.push(e), new Uint8Array(0)));
        await b.invoke(req("create", { topic: `${topic}/a` }, '{"n":1}'));
        await waitFor(() => got.length === 1, "the message published through the binding");
        expect(dec.decode(got[0]!.data)).toBe('{"n":1}');
        expect(got[0]!.metadata.topic).toBe(`${topic}/a`);
        await r.close();
      },
      validRequest: () => req("create", {}, "x"),
      cleanup: () => binding.close(),
    };
  }],
  ["bindings.redis", async () => {
    const key = `rapr-conf-${crypto.randomUUID()}`;
    const binding = await createOutput(bindingsRedis, { redisHost: REDIS_HOST, redisPassword: "" });
    return {
      binding,
      roundTripOperations: ["create", "get", "delete", "increment"],
      async roundTrip(b) {
        const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
        await b.invoke(req("create", { key }, binary));
        expect(Buffer.from((await b.invoke(req("get", { key }))).data).equals(Buffer.from(binary))).toBe(true);
        await b.invoke(req("create", { key }, '"quoted"')); // stored as it arrives, as daprd does
        expect(text(await b.invoke(req("get", { key, delete: "true" })))).toBe('"quoted"');
        expect((await b.invoke(req("get", { key }))).data.byteLength).toBe(0);
        await b.invoke(req("increment", { key, ttlInSeconds: "100" }));
        await b.invoke(req("increment", { key }));
        expect(text(await b.invoke(req("get", { key })))).toBe("2");
        await b.invoke(req("delete", { key }));
        expect((await b.invoke(req("get", { key }))).data.byteLength).toBe(0);
        await expect(b.invoke(req("get"))).rejects.toThrow("missing key");
        await expect(b.invoke(req("create", { key, ttlInSeconds: "soon" }))).rejects.toBeInstanceOf(BindingRequestError);
      },
      validRequest: () => req("get", { key }),
      cleanup: () => binding.close(),
    };
  }],
];

const noPostgres = await missing("postgres");
const noMqtt = await missing("mqtt");
const noRedis = await missing("redis");
/** Subjects that need a backend this machine may lack. */
const unavailable = (name: string) => (name === "bindings.postgresql" && noPostgres) || (name === "bindings.mqtt3" && noMqtt) || (name === "bindings.redis" && noRedis);

for (const [name, make] of outputSubjects) describe.skipIf(unavailable(name))(`OutputBinding contract: ${name}`, () => {
  let subject: OutputSubject;
  beforeAll(async () => {
    subject = await make();
  });
  afterAll(async () => {
    await subject?.cleanup();
  });

  test("operations() is non-empty and lists every operation the round trip uses", () => {
    const ops = subject.binding.operations();
    expect(ops.length).toBeGreaterThan(0);
    expect(ops).toEqual(expect.arrayContaining(subject.roundTripOperations));
  });

  test("round trip", async () => {
    await subject.roundTrip(subject.binding);
  });

  test("an unknown operation is refused with BindingRequestError, and the binding still serves", async () => {
    await expect(subject.binding.invoke(req("no-such-operation"))).rejects.toBeInstanceOf(BindingRequestError);
    await subject.binding.invoke(subject.validRequest());
  });

  test("an already aborted signal rejects at once, as an abort", async () => {
    const started = performance.now();
    const signal = AbortSignal.abort();
    await expectAbort(subject.binding.invoke({ ...subject.validRequest(), signal }), signal);
    expect(performance.now() - started).toBeLessThan(200);
  });

  test("an abort during a slow request rejects promptly, as an abort", async () => {
    if (!subject.slowRequest) return; // every operation of this backend is instantaneous
    const controller = new AbortController();
    const pending = subject.binding.invoke({ ...subject.slowRequest(), signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    await expectAbort(pending, controller.signal);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("close() can be called twice at once, and again after; a closed binding refuses requests", async () => {
    const another = await make();
    await Promise.all([another.binding.close(), another.binding.close()]);
    await another.binding.close();
    await expect(another.binding.invoke(another.validRequest())).rejects.toThrow("is closed");
    await another.cleanup();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Input bindings: each subject makes an instance that fires about every 200 ms, and lists metadata init must refuse.

interface InputSubject {
  makeFrequent(): Promise<In>;
  /** [metadata, text the init error must contain] */
  invalid: [Record<string, string>, string][];
}

const inputSubjects: [string, InputSubject][] = [
  ["bindings.cron", {
    makeFrequent: () => createInput(bindingsCron, { schedule: "@every 200ms" }),
    invalid: [
      [{ schedule: "not a schedule" }, 'metadata field "schedule"'],
      [{ schedule: "61 * * * *" }, '"61 * * * *"'],
      [{ schedule: "@every" }, '"@every"'],
      [{ schedule: "@every 10" }, '"@every 10"'],
      [{ schedule: "@every soon" }, "soon"],
      [{ schedule: "* * * * * * *" }, '"* * * * * * *"'],
      [{ schedule: "CRON_TZ=Mars/Olympus 0 * * * *" }, "Mars/Olympus"],
      [{ schedule: "@reboot" }, "@reboot"],
      [{}, 'metadata field "schedule" is required'],
    ],
  }],
  ["bindings.mqtt3", {
    // A publisher sends to the binding's topic every 200 ms until the binding closes.
    async makeFrequent() {
      const topic = `rapr-conf/${crypto.randomUUID()}`;
      const b = await createInput(bindingsMqtt3, { url: MQTT_URL, topic, consumerID: `conf-${crypto.randomUUID()}`, cleanSession: "true" });
      const publisher = await createOutput(bindingsMqtt3, { url: MQTT_URL, topic, consumerID: `conf-${crypto.randomUUID()}`, cleanSession: "true" });
      const timer = setInterval(() => void publisher.invoke(req("create", {}, "tick")).catch(() => {}), 200);
      const close = b.close.bind(b);
      b.close = async () => {
        clearInterval(timer);
        await Promise.all([close(), publisher.close()]);
      };
      return b;
    },
    invalid: [
      [{ topic: "t" }, 'metadata field "url" is required'],
      [{ url: MQTT_URL }, 'metadata field "topic" is required'],
      [{ url: "http://127.0.0.1:1883", topic: "t" }, 'unsupported scheme "http"'],
      [{ url: "not a url", topic: "t" }, 'metadata field "url"'],
      [{ url: MQTT_URL, topic: "a/#/b" }, '"#" must be a whole level and the last one'],
      [{ url: MQTT_URL, topic: "a/b+" }, '"+" must be a whole level'],
      [{ url: "ssl://127.0.0.1:8883", topic: "t", caCert: "not pem" }, 'metadata field "caCert": not PEM'],
      [{ url: MQTT_URL, topic: "t", backOffMaxRetries: "x" }, 'metadata field "backOffMaxRetries"'],
    ],
  }],
];

/** A handler whose calls can be held open and released by the test. */
function recorder(behaviour: (n: number) => Promise<void> | void = () => {}) {
  const events: BindingEvent[] = [];
  let running = 0;
  let maxRunning = 0;
  const handler = async (e: BindingEvent) => {
    events.push(e);
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      await behaviour(events.length);
    } finally {
      running--;
    }
    return new Uint8Array(0);
  };
  return { events, handler, running: () => running, maxRunning: () => maxRunning };
}

describe.each(inputSubjects.filter(([name]) => !unavailable(name)))("InputBinding contract: %s", (_name, subject) => {
  const open: In[] = [];
  const make = async () => {
    const b = await subject.makeFrequent();
    open.push(b);
    return b;
  };
  afterAll(async () => {
    await Promise.allSettled(open.map((b) => b.close()));
  });
  /**
   * Lets `n` periods pass, measured by a fresh instance delivering `n` events: time in which a reader still
   * running would have delivered too. Proves silence without a fixed sleep (a loaded machine slows both alike).
   */
  const periodsPass = async (n: number) => {
    const witness = await make();
    const r = recorder();
    const reader = await witness.read(r.handler);
    await waitFor(() => r.events.length >= n, `${n} events of a witness instance`, 5000);
    await reader.close();
  };

  test("delivers repeatedly", async () => {
    const b = await make();
    const r = recorder();
    const reader = await b.read(r.handler);
    await waitFor(() => r.events.length >= 3, "three events", 5000);
    await reader.close();
  });

  test("a handler that rejects does not stop the deliveries", async () => {
    const b = await make();
    const r = recorder(() => {
      throw new Error("app said no");
    });
    const reader = await b.read(r.handler);
    await waitFor(() => r.events.length >= 3, "three events despite rejections", 5000);
    await reader.close();
  });

  test("handler calls never overlap", async () => {
    const b = await make();
    const r = recorder(() => Bun.sleep(500));
    const reader = await b.read(r.handler);
    await waitFor(() => r.events.length >= 3, "three slow events", 5000);
    await reader.close();
    expect(r.maxRunning()).toBe(1);
  });

  test("close() waits for the running handler, and nothing is delivered after it resolves", async () => {
    const b = await make();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const r = recorder(() => held);
    const reader = await b.read(r.handler);
    await waitFor(() => r.running() === 1, "a handler call in progress", 5000);
    let closed = false;
    const closing = reader.close().then(() => (closed = true));
    try {
      await periodsPass(2); // another tick came meanwhile: close must still be waiting
      expect(closed).toBe(false);
    } finally {
      release(); // even when an assertion failed: a held handler would hang afterAll
    }
    await closing;
    const count = r.events.length;
    await periodsPass(3);
    expect(r.events.length).toBe(count);
    expect(r.running()).toBe(0);
  });

  test("the component's close() stops its reader", async () => {
    const b = await make();
    const r = recorder();
    await b.read(r.handler);
    await waitFor(() => r.events.length >= 1, "first event", 5000);
    await b.close();
    const count = r.events.length;
    await periodsPass(3);
    expect(r.events.length).toBe(count);
  });

  test.each(subject.invalid)("init refuses %j", async (raw, mustContain) => {
    const plugin = builtinPlugins.find((p) => p.type === _name)!;
    expect(await initError(plugin, raw)).toContain(mustContain);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Plugin-specific behaviour.

/** A clock whose time moves only when the test runs a timer: due times are exact, whatever the machine's load. */
class FakeClock implements Clock {
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  constructor(private time: number) {}
  now = () => this.time;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.seq, { at: this.time + ms, fn });
    return this.seq;
  };
  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  /** The due times of the timers set and not yet run, earliest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }
  /** Runs the earliest timer, `lateBy` ms after its due time, and lets the work it started settle. */
  async runNext(lateBy = 0) {
    const [id, timer] = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
    if (!timer) throw new Error("no timer is set");
    this.timers.delete(id!);
    this.time = Math.max(this.time, timer.at + lateBy);
    timer.fn();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("shared helpers: isTruthy reads Dapr's truthy words; unsupportedOperation names the binding and the operations", () => {
  for (const yes of ["true", "T", " yes ", "y", "on", "1"]) expect(isTruthy(yes)).toBe(true);
  for (const no of ["false", "0", "", "no", "maybe", undefined]) expect(isTruthy(no)).toBe(false);
  const err = unsupportedOperation('bindings.x "b"', "zap", ["get", "list"]);
  expect(err).toBeInstanceOf(BindingRequestError);
  expect(err.message).toBe('bindings.x "b": unsupported operation "zap"; supported: get, list');
});

test("every bindings plugin is registered as a built-in", () => {
  const types = builtinPlugins.map((p) => p.type);
  expect(types).toEqual(expect.arrayContaining(["bindings.cron", "bindings.http", "bindings.localstorage", "bindings.mqtt3", "bindings.postgresql", "bindings.postgres"]));
});

describe("bindings.cron", () => {
  test("events carry no data, the time zone and Dapr's readTimeUTC", async () => {
    const b = await createInput(bindingsCron, { schedule: "@every 100ms" });
    const r = recorder();
    const before = Date.now();
    await b.read(r.handler);
    await waitFor(() => r.events.length >= 1, "an event", 5000);
    await b.close();
    const e = r.events[0];
    expect(e.data.byteLength).toBe(0);
    expect(e.metadata.timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(e.metadata.readTimeUTC).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    const at = Date.parse(e.metadata.readTimeUTC.replace(" +0000 UTC", "Z").replace(" ", "T"));
    expect(at).toBeGreaterThanOrEqual(before);
  });

  test("a six-field schedule is due on whole seconds; a timer that runs late does not shift the next due time", async () => {
    const start = Date.UTC(2024, 0, 1, 10, 15, 7, 300);
    const clock = new FakeClock(start);
    const b = new CronBinding(parseSchedule("CRON_TZ=UTC * * * * * *"), silentLogger, clock);
    const r = recorder();
    await b.read(r.handler);
    expect(clock.pending()).toEqual([Date.UTC(2024, 0, 1, 10, 15, 8)]);
    await clock.runNext();
    expect(r.events.map((e) => e.metadata.readTimeUTC)).toEqual(["2024-01-01 10:15:08 +0000 UTC"]);
    expect(clock.pending()).toEqual([Date.UTC(2024, 0, 1, 10, 15, 9)]);
    await clock.runNext(40); // a loaded machine: the timer runs 40 ms late, and readTimeUTC says when it ran
    expect(r.events[1].metadata.readTimeUTC).toBe("2024-01-01 10:15:09.04 +0000 UTC");
    expect(clock.pending()).toEqual([Date.UTC(2024, 0, 1, 10, 15, 10)]);
    await b.close();
    expect(clock.pending()).toEqual([]);
  });

  test("a tick due while the app still handles the previous one is skipped, and the schedule goes on", async () => {
    const start = Date.UTC(2024, 0, 1, 10, 0, 0);
    const clock = new FakeClock(start);
    const b = new CronBinding(parseSchedule("@every 1s"), silentLogger, clock);
    let release!: () => void;
    const r = recorder((n) => (n === 1 ? new Promise<void>((resolve) => (release = resolve)) : undefined));
    await b.read(r.handler);
    await clock.runNext(); // 10:00:01, held by the app
    await clock.runNext(); // 10:00:02, skipped
    expect(r.events.length).toBe(1);
    release();
    await waitFor(() => r.running() === 0, "the held event to finish");
    await clock.runNext(); // 10:00:03
    expect(r.events.map((e) => e.metadata.readTimeUTC)).toEqual(["2024-01-01 10:00:01 +0000 UTC", "2024-01-01 10:00:03 +0000 UTC"]);
    await b.close();
  });

  test("after close() no timer is left and no time brings an event", async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1));
    const b = new CronBinding(parseSchedule("@every 1s"), silentLogger, clock);
    const r = recorder();
    await b.read(r.handler);
    await clock.runNext();
    await b.close();
    expect(clock.pending()).toEqual([]);
    expect(r.events.length).toBe(1);
  });

  test("read() a second time, or after close, is refused", async () => {
    const b = await createInput(bindingsCron, { schedule: "@hourly" });
    await b.read(async () => new Uint8Array(0));
    await expect(b.read(async () => new Uint8Array(0))).rejects.toThrow("already");
    await b.close();
    await expect(b.read(async () => new Uint8Array(0))).rejects.toThrow("closed");
  });

  test("the schedule forms Dapr documents are accepted and computed as cron does", () => {
    const at = Date.UTC(2024, 0, 1, 10, 15, 7, 300); // Monday 2024-01-01 10:15:07.300 UTC
    const next = (s: string) => new Date(parseSchedule(`CRON_TZ=UTC ${s}`).next(at, at)!).toISOString();
    expect(next("30 * * * * *")).toBe("2024-01-01T10:15:30.000Z");
    expect(next("0 */15 * * * *")).toBe("2024-01-01T10:30:00.000Z");
    expect(next("0 30 3-6,20-23 * * *")).toBe("2024-01-01T20:30:00.000Z");
    expect(next("*/5 * * * *")).toBe("2024-01-01T10:20:00.000Z");
    expect(next("@hourly")).toBe("2024-01-01T11:00:00.000Z");
    expect(next("@daily")).toBe("2024-01-02T00:00:00.000Z");
    expect(next("@midnight")).toBe("2024-01-02T00:00:00.000Z");
    expect(next("@weekly")).toBe("2024-01-07T00:00:00.000Z");
    expect(next("@monthly")).toBe("2024-02-01T00:00:00.000Z");
    expect(next("@yearly")).toBe("2025-01-01T00:00:00.000Z");
    expect(next("0 0 0 * * 7")).toBe("2024-01-07T00:00:00.000Z");
    expect(next("@every 1m30s")).toBe("2024-01-01T10:16:37.300Z");
    const ny = parseSchedule("CRON_TZ=America/New_York 0 30 04 * * *");
    expect(ny.timeZone).toBe("America/New_York");
    expect(new Date(ny.next(at, at)!).toISOString()).toBe("2024-01-02T09:30:00.000Z");
  });

  test("@every keeps its cadence from the start and skips ticks already past", () => {
    const s = parseSchedule("@every 1s");
    expect(s.next(1000, 1000)).toBe(2000);
    expect(s.next(2000, 1000)).toBe(3000);
    expect(s.next(5500, 1000)).toBe(6000);
  });

  test("readTimeUTC is printed as Go prints a UTC time", () => {
    expect(goUtcString(Date.UTC(2024, 4, 1, 12, 30, 5, 120))).toBe("2024-05-01 12:30:05.12 +0000 UTC");
    expect(goUtcString(Date.UTC(2024, 4, 1, 12, 30, 5, 0))).toBe("2024-05-01 12:30:05 +0000 UTC");
    expect(rfc3339Nano(Date.UTC(2024, 4, 1, 12, 30, 5, 120))).toBe("2024-05-01T12:30:05.12Z");
    expect(rfc3339Nano(Date.UTC(2024, 4, 1, 12, 30, 5, 0))).toBe("2024-05-01T12:30:05Z");
  });
});

describe("bindings.http", () => {
  let b: Out;
  beforeAll(async () => {
    b = await createOutput(bindingsHttp, { url: `${backendUrl}/echo/` });
  });
  afterAll(() => b.close());

  test("answers carry statusCode, status and the response headers in Go's canonical form", async () => {
    const r = await b.invoke(req("get"));
    expect(r.metadata.statusCode).toBe("200");
    expect(r.metadata.status).toBe("200 OK");
    expect(r.metadata["X-Echo"]).toBe("yes");
    expect(r.metadata["Content-Type"]).toContain("application/json");
    expect(r.metadata["Set-Cookie"]).toBe("a=1");
    expect(r.contentType).toContain("application/json");
  });

  test("capitalised metadata keys become headers, other keys do not; a body gets a default JSON content type", async () => {
    const r = json(await b.invoke(req("post", { "X-Custom": "c", lowercase: "no", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }, "{}")));
    expect(r.headers["x-custom"]).toBe("c");
    expect(r.headers.lowercase).toBeUndefined();
    expect(r.headers.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.headers.accept).toBe("application/json; charset=utf-8");
    const own = json(await b.invoke(req("post", { "Content-Type": "text/plain" }, "hi")));
    expect(own.headers["content-type"]).toBe("text/plain");
  });

  test("a header the metadata cannot form is refused with BindingRequestError", async () => {
    await expect(b.invoke(req("get", { "Bad Header": "x" }))).rejects.toBeInstanceOf(BindingRequestError);
  });

  test("metadata path may not leave the url's path, however it is spelled; inside it, dots are fine", async () => {
    for (const path of ["../admin", "%2e%2e/admin", "..\\admin", "a/../../admin", "/%2E%2E/%2e%2e/x", ".%2e/admin", "..%2fadmin", "x/..%5cadmin", "%zz"]) {
      const err = await rejection(b.invoke(req("get", { path })));
      expect(err).toBeInstanceOf(BindingRequestError);
      expect(err.message).toContain(`metadata "path" must stay under the url's path "/echo", got ${JSON.stringify(path)}`);
    }
    expect(json(await b.invoke(req("get", { path: "a/../b/./c" }))).path).toBe("/echo/b/c");
    const atRoot = await createOutput(bindingsHttp, { url: backendUrl });
    expect(json(await atRoot.invoke(req("get", { path: "echo/x" }))).path).toBe("/echo/x");
    await atRoot.close();
  });

  test("with a query in the url, path goes before it, and a query in path is added to it", async () => {
    const withQuery = await createOutput(bindingsHttp, { url: `${backendUrl}/echo?key=abc` });
    expect(json(await withQuery.invoke(req("get", { path: "items" }))).path).toBe("/echo/items?key=abc");
    expect(json(await withQuery.invoke(req("get", { path: "items?page=2" }))).path).toBe("/echo/items?key=abc&page=2");
    await withQuery.close();
  });

  test("a Host header in the metadata is ignored, as Go ignores it", async () => {
    const r = json(await b.invoke(req("get", { Host: "evil.example" })));
    expect(r.headers.host).toBe(new URL(backendUrl).host);
  });

  test("a body fetch decompressed comes without Content-Encoding and Content-Length; a caller's own Accept-Encoding gets the raw body", async () => {
    const gz = await createOutput(bindingsHttp, { url: `${backendUrl}/gzip` });
    const plain = await gz.invoke(req("get"));
    expect(text(plain)).toBe("hello compressed world");
    expect(plain.metadata["Content-Encoding"]).toBeUndefined();
    expect(plain.metadata["Content-Length"]).toBeUndefined();
    expect(plain.metadata["Content-Type"]).toBe("text/plain");
    const raw = await gz.invoke(req("get", { "Accept-Encoding": "gzip" }));
    expect(Buffer.from(raw.data).equals(gzipSync("hello compressed world"))).toBe(true);
    expect(raw.metadata["Content-Encoding"]).toBe("gzip");
    expect(raw.metadata["Content-Length"]).toBe(String(raw.data.byteLength));
  });

  test("close() stops a request in flight and refuses new ones", async () => {
    const closing = await createOutput(bindingsHttp, { url: backendUrl });
    const pending = closing.invoke(req("get", { path: "slow" }));
    const started = performance.now();
    await closing.close();
    expect((await rejection(pending)).message).toContain("the binding was closed");
    expect(performance.now() - started).toBeLessThan(1000);
    const refused = await rejection(closing.invoke(req("get")));
    expect(refused).toBeInstanceOf(BindingRequestError);
    expect(refused.message).toBe('bindings.http "conformance" is closed');
  });

  test("head and options answer without a body", async () => {
    const head = await b.invoke(req("head"));
    expect(head.data.byteLength).toBe(0);
    expect(head.metadata.statusCode).toBe("200");
    expect((await b.invoke(req("options"))).metadata.statusCode).toBe("200");
  });

  test("a non-2xx answer is an error naming the status and the url", async () => {
    const statusBinding = await createOutput(bindingsHttp, { url: `${backendUrl}/status` });
    await expect(statusBinding.invoke(req("get", { path: "404" }))).rejects.toThrow(`GET ${backendUrl}/status/404 answered 404`);
    await expect(statusBinding.invoke(req("post", { path: "503" }, "x"))).rejects.toThrow("answered 503");
    const lenient = await statusBinding.invoke(req("get", { path: "404", errorIfNot2XX: "false" }));
    expect(lenient.metadata.statusCode).toBe("404");
    expect(lenient.metadata.status).toBe("404 Not Found");
    expect(text(lenient)).toBe("status body /status/404");
  });

  test("errorIfNot2XX=false in the component lets non-2xx answers through", async () => {
    const lenient = await createOutput(bindingsHttp, { url: `${backendUrl}/status/500`, errorIfNot2XX: "false" });
    expect((await lenient.invoke(req("get"))).metadata.statusCode).toBe("500");
    await expect(lenient.invoke(req("get", { errorIfNot2XX: "true" }))).rejects.toThrow("answered 500");
  });

  test("the security token goes out in its header", async () => {
    const secured = await createOutput(bindingsHttp, { url: `${backendUrl}/echo`, securityToken: "s3cret", securityTokenHeader: "X-Token" });
    expect(json(await secured.invoke(req("get"))).headers["x-token"]).toBe("s3cret");
  });

  test("maxResponseBodySize cuts longer answers", async () => {
    const small = await createOutput(bindingsHttp, { url: `${backendUrl}/big`, maxResponseBodySize: "100" });
    expect((await small.invoke(req("get"))).data.byteLength).toBe(100);
    const unlimited = await createOutput(bindingsHttp, { url: `${backendUrl}/big`, maxResponseBodySize: "1Ki" });
    expect((await unlimited.invoke(req("get"))).data.byteLength).toBe(1000);
  });

  test("responseTimeout bounds a slow answer", async () => {
    const hasty = await createOutput(bindingsHttp, { url: `${backendUrl}/slow`, responseTimeout: "200ms" });
    const started = performance.now();
    await expect(hasty.invoke(req("get"))).rejects.toThrow(`GET ${backendUrl}/slow failed: no answer within responseTimeout (200ms)`);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test("an unreachable url rejects, naming the binding and the url", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const gone = await createOutput(bindingsHttp, { url });
    await expect(gone.invoke(req("get"))).rejects.toThrow(`bindings.http "conformance": GET ${url} failed`);
  });

  test("init refuses a bad url or body size, naming the field and value", async () => {
    expect(await initError(bindingsHttp, { url: "not a url" })).toContain('metadata field "url": must be an absolute http(s) URL, got "not a url"');
    expect(await initError(bindingsHttp, { url: "ftp://host/x" })).toContain('"url"');
    expect(await initError(bindingsHttp, { url: backendUrl, maxResponseBodySize: "lots" })).toContain('metadata field "maxResponseBodySize"');
    expect(await initError(bindingsHttp, { url: backendUrl, MTLSClientCert: "/nope.pem", MTLSClientKey: "/nope.key" })).toContain('"MTLSClientCert"');
    expect(await initError(bindingsHttp, {})).toContain('metadata field "url" is required');
  });

  test("mTLS: the binding trusts MTLSRootCA and presents its client certificate (PEM files)", async () => {
    const dir = mkdtempSync(join(scratch, "tls-"));
    const ca = await loadOrCreateCa(join(dir, "ca"));
    const server = await issueLeaf(ca, { trustDomain: "test", namespace: "default", appId: "server" });
    const client = await issueLeaf(ca, { trustDomain: "test", namespace: "default", appId: "client" });
    const tlsServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: server.cert, key: server.key, ca: ca.pem, requestCert: true, rejectUnauthorized: true },
      fetch: () => new Response("secure hello"),
    });
    try {
      for (const [name, pem] of [["ca.pem", ca.pem], ["client.pem", client.cert], ["client.key", client.key]]) writeFileSync(join(dir, name), pem);
      const url = `https://127.0.0.1:${tlsServer.port}`;
      const mtls = await createOutput(bindingsHttp, {
        url, MTLSRootCA: join(dir, "ca.pem"), MTLSClientCert: join(dir, "client.pem"), MTLSClientKey: join(dir, "client.key"),
      });
      expect(text(await mtls.invoke(req("get")))).toBe("secure hello");
      const noClientCert = await createOutput(bindingsHttp, { url, MTLSRootCA: ca.pem });
      await expect(noClientCert.invoke(req("get"))).rejects.toThrow();
    } finally {
      tlsServer.stop(true);
    }
  });
});

describe.skipIf(noPostgres)("bindings.postgresql", () => {
  let b: Out;
  const tables: string[] = [];
  /** A separate client that watches the server (pg_stat_activity); two connections: a test may reserve one. */
  const admin = postgres(PG_URL, { max: 2, onnotice: () => {} });
  /** Connections and, when given, statements of one application_name. */
  const backends = async (applicationName: string, query?: string) => {
    const rows = await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = ${applicationName} AND (${query ?? null}::text IS NULL OR query = ${query ?? null}::text AND state = 'active')`;
    return rows[0].n;
  };
  const uniqueApp = () => `conf-${Math.random().toString(36).slice(2, 10)}`;
  beforeAll(async () => {
    b = await createOutput(bindingsPostgresql, { url: PG_URL }); // Dapr's other name for connectionString
  });
  afterAll(async () => {
    await b.close();
    for (const t of tables) await dropTable(t);
    await admin.end({ timeout: 2 });
  });

  test("a SQL error rejects with PostgreSQL's message", async () => {
    await expect(b.invoke(req("query", { sql: "SELEC 1" }))).rejects.toThrow('syntax error at or near "SELEC"');
    await expect(b.invoke(req("exec", { sql: "SELECT 1/0", params: "[]" }))).rejects.toThrow("division by zero");
  });

  test("missing sql, malformed or non-array params are BindingRequestErrors naming the field", async () => {
    const missing = b.invoke(req("exec"));
    await expect(missing).rejects.toBeInstanceOf(BindingRequestError);
    await expect(b.invoke(req("exec"))).rejects.toThrow('metadata "sql" is required');
    await expect(b.invoke(req("query", { sql: "SELECT $1", params: "[1," }))).rejects.toBeInstanceOf(BindingRequestError);
    await expect(b.invoke(req("query", { sql: "SELECT $1", params: "[1," }))).rejects.toThrow('metadata "params" must be a JSON array');
    await expect(b.invoke(req("query", { sql: "SELECT $1", params: '{"a":1}' }))).rejects.toThrow('metadata "params" must be a JSON array');
  });

  test("exec reports rows-affected and Dapr's timing metadata", async () => {
    const table = uniqueTable("conf_bind_meta");
    tables.push(table);
    // Without params exec is a simple query: several statements in one call.
    await b.invoke(req("exec", { sql: `CREATE TABLE "${table}" (id int); INSERT INTO "${table}" SELECT generate_series(1, 5)` }));
    const sqlText = `UPDATE "${table}" SET id = id + 10 WHERE id > $1`;
    const r = await b.invoke(req("exec", { sql: sqlText, params: "[2]" }));
    expect(r.metadata["rows-affected"]).toBe("3");
    expect(r.metadata.operation).toBe("exec");
    expect(r.metadata.sql).toBe(sqlText);
    for (const k of ["start-time", "end-time"]) expect(r.metadata[k]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(r.metadata["end-time"])).toBeGreaterThanOrEqual(Date.parse(r.metadata["start-time"]));
    expect(r.metadata.duration).toMatch(/^[\d.]+(ns|µs|ms|s)$/);
  });

  test("query answers rows as arrays of column values; int8 and numeric stay exact numbers, bytea is base64", async () => {
    const r = await b.invoke(req("query", {
      sql: "SELECT 9007199254740993::int8, 12.50::numeric, 'NaN'::numeric, '\\x0102ff'::bytea, '{\"k\":[1]}'::jsonb, true, NULL::text, $1::text",
      params: '["p"]',
    }));
    expect(text(r)).toBe('[[9007199254740993,12.50,"NaN","AQL/",{"k":[1]},true,null,"p"]]');
    expect(r.metadata.operation).toBe("query");
    expect(json(await b.invoke(req("query", { sql: "SELECT 1 WHERE false" })))).toEqual([]);
  });

  test("params may be objects (for json columns) and arrays (for array columns)", async () => {
    const r = await b.invoke(req("query", { sql: "SELECT $1::jsonb -> 'a', $2::int[]", params: '[{"a": 7}, [1, 2]]' }));
    expect(json(r)).toEqual([[7, [1, 2]]]);
  });

  test("an abort cancels the statement on the server: a one-connection pool answers again at once", async () => {
    const appId = uniqueApp();
    const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1" }, undefined, { appId });
    try {
      const controller = new AbortController();
      const sleeping = single.invoke({ ...req("query", { sql: "SELECT pg_sleep(10)" }), signal: controller.signal });
      await waitFor(async () => (await backends(`rapr:${appId}`, "SELECT pg_sleep(10)")) === 1, "the statement to run");
      controller.abort();
      await expectAbort(sleeping, controller.signal);
      const started = performance.now();
      await single.invoke(req("query", { sql: "SELECT 1" }));
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await single.close();
    }
  });

  for (const operation of ["exec", "query"] as const) {
    test(`a connection killed under ${operation} fails that request, and the next ones are served at once (no dead connection handed on)`, async () => {
      const appId = uniqueApp();
      const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1" }, undefined, { appId });
      try {
        const sql = "SELECT pg_sleep(10)";
        const running = rejection(single.invoke(req(operation, { sql })));
        await waitFor(async () => (await backends(`rapr:${appId}`, sql)) === 1, "the statement to run");
        await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${`rapr:${appId}`} AND query = ${sql}`;
        expect((await running).message).toContain(`${operation} failed`);
        for (let i = 0; i < 3; i++) expect(json(await single.invoke(req("query", { sql: "SELECT 1" })))).toEqual([[1]]);
      } finally {
        await single.close();
      }
    });
  }

  test("aborted requests queued behind a busy connection never reach the server", async () => {
    const table = uniqueTable("conf_bind_abort");
    tables.push(table);
    const appId = uniqueApp();
    const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1" }, undefined, { appId });
    await single.invoke(req("exec", { sql: `CREATE TABLE "${table}" (id int)` }));
    // The binding's statement waits on an advisory lock the admin holds until the assertions are done: no timing.
    const lockKey = Math.floor(Math.random() * 2 ** 31);
    const holder = await admin.reserve();
    await holder.unsafe(`SELECT pg_advisory_lock(${lockKey})`);
    const slowSql = `SELECT pg_advisory_lock(${lockKey}), pg_advisory_unlock(${lockKey})`;
    const slow = single.invoke(req("query", { sql: slowSql }));
    try {
      await waitFor(async () => (await backends(`rapr:${appId}`, slowSql)) === 1, "the slow statement to run");
      const withParams = new AbortController();
      const simple = new AbortController();
      const queued = [
        single.invoke({ ...req("exec", { sql: `INSERT INTO "${table}" VALUES ($1)`, params: "[1]" }), signal: withParams.signal }),
        single.invoke({ ...req("exec", { sql: `INSERT INTO "${table}" VALUES (2)` }), signal: simple.signal }),
      ];
      withParams.abort();
      simple.abort();
      await expectAbort(queued[0], withParams.signal);
      await expectAbort(queued[1], simple.signal);
    } finally {
      await holder.unsafe(`SELECT pg_advisory_unlock(${lockKey})`);
      holder.release();
    }
    await slow; // the statement that was running is not the one cancelled
    expect(json(await single.invoke(req("query", { sql: `SELECT count(*)::int FROM "${table}"` })))).toEqual([[0]]);
    await single.close();
  });

  test("SQL holding BEGIN runs on a pool of several connections, and never leaves a connection inside a transaction", async () => {
    const table = uniqueTable("conf_bind_tx");
    tables.push(table);
    const count = async () => (await admin.unsafe(`SELECT count(*)::int AS n FROM "${table}"`))[0].n;
    await b.invoke(req("exec", { sql: `CREATE TABLE "${table}" (id int)` }));
    // A whole transaction in one exec (postgres.js refused it as UNSAFE_TRANSACTION after the server had run it).
    const whole = await b.invoke(req("exec", { sql: `BEGIN; INSERT INTO "${table}" VALUES (1); COMMIT` }));
    expect(whole.metadata["rows-affected"]).toBeDefined();
    expect(await count()).toBe(1);
    const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1" });
    try {
      // A bare BEGIN is rolled back at the end of its request: the next INSERT commits on its own.
      await single.invoke(req("exec", { sql: "BEGIN" }));
      await single.invoke(req("exec", { sql: `INSERT INTO "${table}" VALUES (2)` }));
      expect(await count()).toBe(2);
      // A statement failing inside a transaction does not leave the connection in 25P02 for the next request.
      await expect(single.invoke(req("exec", { sql: `BEGIN; INSERT INTO "${table}" VALUES (3); INSERT INTO no_such_table VALUES (1); COMMIT` })))
        .rejects.toThrow("does not exist");
      await single.invoke(req("exec", { sql: `INSERT INTO "${table}" VALUES (4)` }));
      // A simple query may hold a BEGIN too.
      await single.invoke(req("query", { sql: "BEGIN; SELECT 1" }));
      await single.invoke(req("exec", { sql: `INSERT INTO "${table}" VALUES (5)` }));
      expect(json(await single.invoke(req("query", { sql: `SELECT id FROM "${table}" ORDER BY id` })))).toEqual([[1], [2], [4], [5]]);
      expect(await count()).toBe(4);
    } finally {
      await single.close();
    }
  });

  test("an abort while the pool opens a connection does not lose the connection", async () => {
    // maxConns 1: the idle connection closes, the next request makes the pool open one, and is aborted meanwhile.
    const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1", connectionMaxIdleTime: "300ms" });
    try {
      await Bun.sleep(800);
      const controller = new AbortController();
      const pending = single.invoke({ ...req("query", { sql: "SELECT 1" }), signal: controller.signal });
      setTimeout(() => controller.abort(), 0);
      await expectAbort(pending, controller.signal);
      const next = single.invoke(req("query", { sql: "SELECT 2" }));
      const answer = await Promise.race([next.then(json), Bun.sleep(3000).then(() => "no answer within 3 s")]);
      expect(answer).toEqual([[2]]);
    } finally {
      await single.close();
    }
  });

  test("close() called twice at once: both resolve only once the pool is closed", async () => {
    const appId = uniqueApp();
    const closing = await createOutput(bindingsPostgresql, { connectionString: PG_URL }, undefined, { appId });
    let running = true;
    const lockKey = Math.floor(Math.random() * 2 ** 31);
    const holder = await admin.reserve();
    await holder.unsafe(`SELECT pg_advisory_lock(${lockKey})`);
    const slowSql = `SELECT pg_advisory_lock(${lockKey}), pg_advisory_unlock(${lockKey})`;
    const slow = closing.invoke(req("query", { sql: slowSql })).finally(() => (running = false));
    let first: Promise<void> | undefined;
    let second: Promise<void> | undefined;
    try {
      await waitFor(async () => (await backends(`rapr:${appId}`, slowSql)) === 1, "the statement to run");
      first = closing.close();
      second = closing.close(); // the second call waits for the same closing: the pool drains the running statement
      await Bun.sleep(50);
      expect(running).toBe(true);
    } finally {
      await holder.unsafe(`SELECT pg_advisory_unlock(${lockKey})`);
      holder.release();
    }
    await second;
    expect(running).toBe(false);
    await first;
    await slow;
  });

  test("close() releases the binding's connections (application_name rapr:{app id})", async () => {
    const appId = uniqueApp();
    const pooled = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "3" }, undefined, { appId });
    await Promise.all([1, 2, 3].map(() => pooled.invoke(req("query", { sql: "SELECT pg_sleep(0.05)" }))));
    expect(await backends(`rapr:${appId}`)).toBeGreaterThanOrEqual(1);
    await pooled.close();
    await waitFor(async () => (await backends(`rapr:${appId}`)) === 0, "no connection of the closed binding");
  });

  test("timestamp, timestamptz and date come back as Go's RFC3339Nano in UTC, microseconds kept, whatever the session time zone", async () => {
    const single = await createOutput(bindingsPostgresql, { connectionString: PG_URL, maxConns: "1" });
    const sql = "SELECT '2024-01-01 10:00:00.123456'::timestamp, '2024-01-01 10:00:00.5+02'::timestamptz, '2024-02-29'::date, " +
      "ARRAY['2024-03-01 00:00:00'::timestamp], '1800-01-01 00:00:00+00'::timestamptz, 'infinity'::timestamp, NULL::date, '0001-01-01 00:00:00+01'::timestamptz, " +
      "'0001-06-01 BC'::date, '0002-01-01 00:00:00 BC'::timestamp";
    const expected = [["2024-01-01T10:00:00.123456Z", "2024-01-01T08:00:00.5Z", "2024-02-29T00:00:00Z", ["2024-03-01T00:00:00Z"],
      "1800-01-01T00:00:00Z", "infinity", null, "0000-12-31T23:00:00Z", "0000-06-01T00:00:00Z", "0002-01-01 00:00:00 BC"]];
    // Zones with half-hour and (in 1800) local-mean-time offsets of seconds: +05:30, -03:30, +00:19:32.
    for (const zone of ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"]) {
      await single.invoke(req("exec", { sql: `SET TIME ZONE '${zone}'` }));
      expect(json(await single.invoke(req("query", { sql })))).toEqual(expected);
    }
    await single.close();
  });

  test("connection string errors name the field at fault and never echo a value that may be secret", async () => {
    const messages = [
      await initError(bindingsPostgresql, { connectionString: "host=h password=se cret user=u" }),
      await initError(bindingsPostgresql, { connectionString: "postgres://u:S3cretPw@h:99999/db" }),
      await initError(bindingsPostgresql, { connectionString: "postgres://u:S3cretPw@[bad/db" }),
      await initError(bindingsPostgresql, { connectionString: "postgres://u:S3cret%zzPw@h/db" }),
    ];
    expect(messages[0]).toContain('metadata field "connectionString": cannot read key=value at character 20 (after the value of "password")');
    expect(messages[1]).toContain('metadata field "connectionString": not a valid URL: the port must be a number from 1 to 65535');
    expect(messages[2]).toContain("not a valid URL: the host is malformed");
    expect(messages[3]).toContain("not a valid URL: the user or password has a malformed %-escape");
    for (const m of messages) expect(m).not.toMatch(/cret|S3cret/);
    expect(await initError(bindingsPostgresql, { connectionString: "host=h port=abc" })).toContain('port must be a number from 1 to 65535, got "abc"');
    expect(await initError(bindingsPostgresql, { connectionString: "host=h pool_max_conns=many" })).toContain("pool_max_conns must be a whole number");
  });

  test("init gives up after the metadata timeout, and after 5 s without one, on a server that never answers", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `postgres://postgres@127.0.0.1:${(silent.address() as { port: number }).port}/test`;
    try {
      const [explicit, byDefault] = await Promise.all([
        initError(bindingsPostgresql, { connectionString: url, timeout: "1s" }),
        initError(bindingsPostgresql, { connectionString: url }),
      ]);
      expect(explicit).toContain("cannot reach PostgreSQL: no answer within 1000ms (timeout)");
      expect(byDefault).toContain("cannot reach PostgreSQL: no answer within 5000ms (timeout)");
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 20_000);

  test("the close operation closes the binding; later requests are refused", async () => {
    const closing = await createOutput(bindingsPostgresql, { connectionString: PG_URL });
    await closing.invoke(req("close"));
    await expect(closing.invoke(req("query", { sql: "SELECT 1" }))).rejects.toThrow("is closed");
    await closing.invoke(req("close"));
  });

  test("libpq keyword/value connection strings work too", async () => {
    const u = new URL(PG_URL);
    const keywords = `host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username)} dbname=${u.pathname.slice(1)}` +
      (u.password ? ` password='${decodeURIComponent(u.password).replace(/'/g, "\\'")}'` : "") + " application_name='rapr test' pool_min_conns=1";
    const kv = await createOutput(bindingsPostgresql, { connectionString: keywords });
    try {
      expect(json(await kv.invoke(req("query", { sql: "SELECT current_setting('application_name')" })))).toEqual([["rapr test"]]);
    } finally {
      await kv.close();
    }
    expect(parseConnectionString("host=h port=1 user='o\\'brien' sslmode=disable pool_max_conns=3 keepalives=1 DateStyle=German search_path=s1")).toEqual({
      options: { host: "h", port: 1, username: "o'brien", ssl: false, max: 3, connection: { search_path: "s1" } },
      ignored: ["keepalives", "datestyle"],
    });
    // libpq's ssl file settings become postgres.js's ssl option (files read at init), never server parameters.
    const ca = join(scratch, `ca-${Math.random().toString(36).slice(2, 8)}.pem`);
    writeFileSync(ca, "CA PEM");
    const verifyCa = parseConnectionString(`postgres://u@h/db?sslmode=verify-ca&sslrootcert=${ca}&sslpassword=pw`);
    expect(verifyCa.url).toBe("postgres://u@h/db");
    expect(verifyCa.options.ssl).toMatchObject({ rejectUnauthorized: true, ca: "CA PEM", passphrase: "pw" });
    expect(parseConnectionString(`host=h sslmode=require sslrootcert=${ca}`).options.ssl).toMatchObject({ rejectUnauthorized: true, ca: "CA PEM" });
    expect(parseConnectionString("postgres://u@h/db?sslmode=require").options.ssl).toEqual({ rejectUnauthorized: false });
    expect(parseConnectionString("postgres://u@h/db?sslmode=verify-full&sslrootcert=system").options.ssl).toEqual({ rejectUnauthorized: true });
    expect(parseConnectionString(`postgres://u@h/db?sslmode=disable&sslrootcert=${ca}`)).toMatchObject({ options: { ssl: false }, ignored: ["sslrootcert"] });
    expect(() => parseConnectionString("postgres://u@h/db?sslmode=verify-full&sslcert=/no/such/file.pem")).toThrow('cannot read the sslcert file "/no/such/file.pem"');
    expect(parseConnectionString("postgres://u@h:5/db?sslmode=disable&pool_max_conns=4")).toEqual({ url: "postgres://u@h:5/db", options: { max: 4, ssl: false }, ignored: [] });
  });

  test("URL parameters reach the server as run-time parameters (search_path), except DateStyle: timestamps stay RFC3339", async () => {
    const schema = uniqueTable("conf_schema");
    await admin.unsafe(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".t (d date); INSERT INTO "${schema}".t VALUES ('2024-01-02')`);
    const u = new URL(PG_URL);
    u.searchParams.set("search_path", schema);
    u.searchParams.set("DateStyle", "German");
    const scoped = await createOutput(bindingsPostgresql, { connectionString: u.toString() });
    try {
      expect(json(await scoped.invoke(req("query", { sql: "SELECT d, '2024-01-02 03:04:05+00'::timestamptz FROM t" }))))
        .toEqual([["2024-01-02T00:00:00Z", "2024-01-02T03:04:05Z"]]);
    } finally {
      await scoped.close();
      await admin.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  test("init fails when the server cannot be reached, and under Dapr's other type name it works", async () => {
    const port = await freePort();
    expect(await initError(bindingsPostgresql, { connectionString: `postgres://postgres@127.0.0.1:${port}/test`, timeout: "1s" })).toContain("cannot reach PostgreSQL");
    expect(await initError(bindingsPostgresql, {})).toContain('metadata field "connectionString" is required');
    const alias = await createOutput(bindingsPostgresAlias, { connectionString: PG_URL });
    await alias.close();
  });

  test("durations are printed as Go prints them", () => {
    expect(goDuration(0)).toBe("0s");
    expect(goDuration(0.85)).toBe("850µs");
    expect(goDuration(1.5)).toBe("1.5ms");
    expect(goDuration(2250)).toBe("2.25s");
    expect(goDuration(90_000)).toBe("1m30s");
    expect(goDuration(3_605_000)).toBe("1h0m5s");
  });
});

describe("bindings.localstorage", () => {
  let dataDir: string;
  let b: Out;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(scratch, "ls-specific-"));
    b = await createOutput(bindingsLocalstorage, { rootPath: join(dataDir, "root") });
  });

  test("fileNames that leave rootPath are refused with BindingRequestError", async () => {
    writeFileSync(join(dataDir, "outside.txt"), "secret");
    mkdirSync(join(dataDir, "root"), { recursive: true });
    symlinkSync(dataDir, join(dataDir, "root", "escape"));
    for (const fileName of ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "..", "escape/outside.txt", "nul\0byte"]) {
      for (const operation of ["create", "get", "delete", "list"]) {
        const attempt = b.invoke(req(operation, { fileName }, "x"));
        await expect(attempt).rejects.toBeInstanceOf(BindingRequestError);
      }
    }
    await expect(b.invoke(req("get", { fileName: "../outside.txt" }))).rejects.toThrow('metadata "fileName" must not contain ".." segments, got "../outside.txt"');
    expect(readFileSync(join(dataDir, "outside.txt"), "utf8")).toBe("secret");
    rmSync(join(dataDir, "root", "escape"));
  });

  test("a JSON string (as Dapr's HTTP API passes text) is written unquoted; other bytes as they are", async () => {
    await b.invoke(req("create", { fileName: "quoted.txt" }, '"Hello \\"World\\""'));
    expect(readFileSync(join(dataDir, "root", "quoted.txt"), "utf8")).toBe('Hello "World"');
    const binary = Uint8Array.from([0, 255, 34, 1]);
    await b.invoke(req("create", { fileName: "bin" }, binary));
    expect(new Uint8Array(readFileSync(join(dataDir, "root", "bin")))).toEqual(binary);
  });

  test("as in Dapr, data that is base64 is decoded by default (quoted or not, CR/LF skipped); other data is written as it is", async () => {
    await b.invoke(req("create", { fileName: "plain" }, "QUJD"));
    expect(readFileSync(join(dataDir, "root", "plain"), "utf8")).toBe("ABC");
    await b.invoke(req("create", { fileName: "b64" }, '"AAH/"'));
    expect([...readFileSync(join(dataDir, "root", "b64"))]).toEqual([0, 1, 255]);
    await b.invoke(req("create", { fileName: "lines" }, "QUJD\r\nREVG"));
    expect(readFileSync(join(dataDir, "root", "lines"), "utf8")).toBe("ABCDEF");
    for (const notBase64 of ["QUJ", "QUJD=", "QU JD", "hello world"]) {
      await b.invoke(req("create", { fileName: "text" }, notBase64));
      expect(readFileSync(join(dataDir, "root", "text"), "utf8")).toBe(notBase64);
    }
  });

  test("decodeBase64 \"false\" (request or component) writes base64 text as it is; \"true\" requires base64", async () => {
    await b.invoke(req("create", { fileName: "kept", decodeBase64: "false" }, "QUJD"));
    expect(readFileSync(join(dataDir, "root", "kept"), "utf8")).toBe("QUJD");
    const raw = await createOutput(bindingsLocalstorage, { rootPath: join(dataDir, "root"), decodeBase64: "false" });
    await raw.invoke(req("create", { fileName: "kept-2" }, "QUJD"));
    expect(readFileSync(join(dataDir, "root", "kept-2"), "utf8")).toBe("QUJD");
    await raw.invoke(req("create", { fileName: "decoded", decodeBase64: "true" }, "QUJD"));
    expect(readFileSync(join(dataDir, "root", "decoded"), "utf8")).toBe("ABC");
    await expect(b.invoke(req("create", { fileName: "b64", decodeBase64: "true" }, "not base64!"))).rejects.toBeInstanceOf(BindingRequestError);
    const strict = await createOutput(bindingsLocalstorage, { rootPath: join(dataDir, "root"), decodeBase64: "true" });
    await expect(strict.invoke(req("create", { fileName: "b64" }, "not base64!"))).rejects.toThrow("data is not base64 while decodeBase64 is true");
  });

  test("an absolute link spelled through a symbolic link to rootPath is followed (only where it ends up counts)", async () => {
    const real = mkdtempSync(join(dataDir, "real-"));
    const aliased = join(dataDir, `alias-${Math.random().toString(36).slice(2, 8)}`);
    symlinkSync(real, aliased);
    writeFileSync(join(real, "target.txt"), "in");
    symlinkSync(join(aliased, "target.txt"), join(real, "abs-link"));
    symlinkSync(join(aliased, "..", "outside.txt"), join(real, "abs-out"));
    writeFileSync(join(dataDir, "outside.txt"), "secret");
    const viaAlias = await createOutput(bindingsLocalstorage, { rootPath: aliased });
    expect(text(await viaAlias.invoke(req("get", { fileName: "abs-link" })))).toBe("in");
    await expect(viaAlias.invoke(req("get", { fileName: "abs-out" }))).rejects.toThrow("leads outside rootPath through a symbolic link");
  });

  test("a dangling symbolic link does not let create write outside rootPath", async () => {
    const root = join(dataDir, "root");
    const outside = mkdtempSync(join(dataDir, "outside-"));
    symlinkSync(join(outside, "created.txt"), join(root, "dangling"));
    symlinkSync(join(outside, "newdir"), join(root, "dangling-dir"));
    symlinkSync("../outside-never/x", join(root, "dangling-relative"));
    for (const fileName of ["dangling", "dangling-dir/f.txt", "dangling-relative"]) {
      const err = await rejection(b.invoke(req("create", { fileName }, "pwned")));
      expect(err).toBeInstanceOf(BindingRequestError);
      expect(err.message).toContain(`metadata "fileName" leads outside rootPath through a symbolic link, got ${JSON.stringify(fileName)}`);
    }
    expect(existsSync(join(outside, "created.txt"))).toBe(false);
    expect(existsSync(join(outside, "newdir"))).toBe(false);
    // A dangling link that stays inside the root is followed, as the kernel would: create makes its target.
    symlinkSync("made-by-link.txt", join(root, "inner-dangling"));
    expect(json(await b.invoke(req("create", { fileName: "inner-dangling" }, "via link")))).toEqual({ fileName: "inner-dangling" });
    expect(readFileSync(join(root, "made-by-link.txt"), "utf8")).toBe("via link");
    expect(text(await b.invoke(req("get", { fileName: "inner-dangling" })))).toBe("via link");
    for (const link of ["dangling", "dangling-dir", "dangling-relative", "inner-dangling"]) await b.invoke(req("delete", { fileName: link }));
    await b.invoke(req("delete", { fileName: "made-by-link.txt" }));
  });

  test("a file opened through a link swapped in after the check is refused (the opened file's real path is checked)", async () => {
    const root = join(dataDir, "root");
    const outside = mkdtempSync(join(dataDir, "outside-"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    symlinkSync(outside, join(root, "swapped"));
    const refuse = (why: string) => new BindingRequestError(why);
    // What a race would hand openInside: a path checked while "swapped" was a directory, now a link leading out.
    const err = await rejection(openInside(root, join(root, "swapped", "secret.txt"), constants.O_RDONLY, refuse));
    expect(err).toBeInstanceOf(BindingRequestError);
    expect(err.message).toBe("leads outside rootPath through a symbolic link");
    await rejection(openInside(root, join(root, "swapped", "new.txt"), constants.O_WRONLY | constants.O_CREAT, refuse));
    expect(existsSync(join(outside, "new.txt"))).toBe(false); // the file the refused open created is removed again
    // a file that was there before is refused, and left alone
    await rejection(openInside(root, join(root, "swapped", "secret.txt"), constants.O_WRONLY | constants.O_CREAT, refuse));
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    // the parents create makes are checked one by one: a link among them is refused, nothing is made through it
    expect((await rejection(mkdirInside(root, join(root, "swapped", "deeper"), refuse))).message).toContain("symbolic link");
    expect(existsSync(join(outside, "deeper"))).toBe(false);
    // and a final link is never followed
    symlinkSync(join(outside, "secret.txt"), join(root, "final-link"));
    expect(((await rejection(openInside(root, join(root, "final-link"), constants.O_RDONLY, refuse))) as NodeJS.ErrnoException).code).toBe("ELOOP");
    rmSync(join(root, "swapped"));
    rmSync(join(root, "final-link"));
  });

  test("list does not follow symbolic links (out of the root, to /, round a loop): it lists them as entries", async () => {
    const root = mkdtempSync(join(dataDir, "walk-"));
    const outside = mkdtempSync(join(dataDir, "outside-"));
    writeFileSync(join(outside, "secret.txt"), "s");
    mkdirSync(join(root, "d"));
    writeFileSync(join(root, "d", "f"), "f");
    symlinkSync(outside, join(root, "out"));
    symlinkSync("/", join(root, "slash"));
    symlinkSync(root, join(root, "d", "loop"));
    const walker = await createOutput(bindingsLocalstorage, { rootPath: root });
    expect(json(await walker.invoke(req("list")))).toEqual(["d/f", "d/loop", "out", "slash"]);
    expect(json(await walker.invoke(req("list", { fileName: "d" })))).toEqual(["d/f", "d/loop"]);
  });

  test("list stops with an error naming the limit after maxListEntries entries", async () => {
    const root = mkdtempSync(join(dataDir, "many-"));
    for (let i = 0; i < 5; i++) writeFileSync(join(root, `f${i}`), "x");
    const limited = await createOutput(bindingsLocalstorage, { rootPath: root, maxListEntries: "3" });
    const err = await rejection(limited.invoke(req("list")));
    expect(err).toBeInstanceOf(BindingRequestError);
    expect(err.message).toBe('bindings.localstorage "conformance": list of "." stopped after 3 entries (maxListEntries); list a subdirectory');
    const enough = await createOutput(bindingsLocalstorage, { rootPath: root, maxListEntries: "5" });
    expect(json(await enough.invoke(req("list")))).toHaveLength(5);
  });

  test("a directory where a file is expected, or a file where a directory is, is a BindingRequestError naming the file", async () => {
    mkdirSync(join(dataDir, "root", "adir"), { recursive: true });
    writeFileSync(join(dataDir, "root", "afile"), "x");
    const cases: [string, Record<string, string>, string][] = [
      ["get", { fileName: "adir" }, 'cannot read "adir": it is a directory'],
      ["create", { fileName: "adir" }, 'cannot write "adir": it is a directory'],
      ["create", { fileName: "afile/b" }, 'cannot write file "afile/b": a part of its path is a file, not a directory'],
      ["get", { fileName: "afile/b" }, 'cannot read "afile/b": a part of its path is a file, not a directory'],
      ["list", { fileName: "afile" }, '"afile" is a file, not a directory to list'],
      ["delete", { fileName: "." }, 'metadata "fileName" must name a file, not rootPath itself, got "."'],
      ["create", { fileName: "." }, 'metadata "fileName" must name a file, not rootPath itself, got "."'],
    ];
    for (const [operation, metadata, message] of cases) {
      const err = await rejection(b.invoke(req(operation, metadata, "x")));
      expect(err).toBeInstanceOf(BindingRequestError);
      expect(err.message).toBe(`bindings.localstorage "conformance": ${message}`);
    }
  });

  test("delete removes an empty directory (as os.Remove), refuses a full one, and removes a link itself, not its target", async () => {
    const root = join(dataDir, "root");
    mkdirSync(join(root, "empty"));
    await b.invoke(req("delete", { fileName: "empty" }));
    expect(existsSync(join(root, "empty"))).toBe(false);
    await b.invoke(req("create", { fileName: "full/x" }, "x"));
    const err = await rejection(b.invoke(req("delete", { fileName: "full" })));
    expect(err).toBeInstanceOf(BindingRequestError);
    expect(err.message).toBe('bindings.localstorage "conformance": cannot delete "full": the directory is not empty');
    const outside = mkdtempSync(join(dataDir, "outside-"));
    writeFileSync(join(outside, "keep.txt"), "keep");
    symlinkSync(join(outside, "keep.txt"), join(root, "link-out"));
    await b.invoke(req("delete", { fileName: "link-out" }));
    expect(existsSync(join(root, "link-out"))).toBe(false);
    expect(readFileSync(join(outside, "keep.txt"), "utf8")).toBe("keep");
  });

  test("close() stops a request in flight and refuses new ones", async () => {
    const closing = await createOutput(bindingsLocalstorage, { rootPath: join(dataDir, "root") });
    const pending = closing.invoke(req("list"));
    await closing.close();
    expect((await rejection(pending)).message).toBe('bindings.localstorage "conformance": closed while operation "list" was in flight');
    const refused = await rejection(closing.invoke(req("get", { fileName: "plain" })));
    expect(refused).toBeInstanceOf(BindingRequestError);
    expect(refused.message).toBe('bindings.localstorage "conformance" is closed');
  });

  test("list takes a subdirectory; get, delete and list of what is missing fail naming it", async () => {
    await b.invoke(req("create", { fileName: "sub/deep/one" }, "1"));
    await b.invoke(req("create", { fileName: "sub/two" }, "2"));
    expect(json(await b.invoke(req("list", { fileName: "sub" })))).toEqual(["sub/deep/one", "sub/two"]);
    for (const [operation, fileName, message] of [["get", "sub/none", 'file "sub/none" not found'], ["delete", "sub/none", 'file "sub/none" not found'], ["list", "nodir", 'directory "nodir" not found']]) {
      const err = await rejection(b.invoke(req(operation, { fileName })));
      expect(err).toBeInstanceOf(BindingRequestError); // a retry cannot make it appear
      expect(err.message).toBe(`bindings.localstorage "conformance": ${message}`);
    }
    await expect(b.invoke(req("get"))).rejects.toThrow('metadata "fileName" is required for operation "get"');
  });

  test("init refuses a rootPath in a system location, naming the field", async () => {
    expect(await initError(bindingsLocalstorage, { rootPath: "/proc/self" })).toContain('metadata field "rootPath": points into /proc');
    expect(await initError(bindingsLocalstorage, {})).toContain('metadata field "rootPath" is required');
  });
});
