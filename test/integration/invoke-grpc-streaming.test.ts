// Streaming gRPC proxying: a native gRPC client (@grpc/grpc-js) calls a sidecar with dapr-app-id metadata and
// reaches the app's own streaming methods (test.Echo in test/fixtures/invoke-grpc-app.ts) through two compiled
// sidecars with mTLS on, or through the one sidecar in front of the app when it names its own app id. The
// calls must stream end to end: an interleaved bidirectional call (send one, await its answer, send the next)
// only completes if no hop buffers the call, and a client's cancellation must reach the app.
// Every wait is bounded (STEP_MS per awaited message or status), so a buffering proxy fails fast and says so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";
import { waitFor } from "../support/ports.js";

/** The longest wait for any one awaited message or status. */
const STEP_MS = 4_000;
/** Deadline of every call, a backstop behind STEP_MS. */
const CALL_DEADLINE_MS = 20_000;
const TEST_MS = 20_000;
const raw = (b: Buffer) => b;

let cluster: Cluster;
let front: Sidecar; // sidecar A: no app; the client calls it
let back: Sidecar & { appPort?: number }; // sidecar B, in front of the gRPC app
const ids = { front: `gfront-${uid()}`, app: `gstream-${uid()}` };

beforeAll(async () => {
  cluster = newCluster("invoke-grpc-stream");
  [front, back] = await Promise.all([
    cluster.start({ appId: ids.front }),
    cluster.start({ appId: ids.app, app: "invoke-grpc-app.ts", appProtocol: "grpc" }),
  ]);
  await waitForApp(front, ids.app, "ready", { method: "POST", body: "{}" });
}, 30_000);

afterAll(async () => {
  await cluster?.stopAll();
});

const hint = "— does a hop buffer the call instead of streaming it?";

/** Rejects with a clear message if p does not settle within ms. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} ${hint}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const statusText = (s: grpc.StatusObject) => `${grpc.status[s.code]} ${JSON.stringify(s.details)}`;

function expectCode(st: grpc.StatusObject, code: grpc.status): void {
  if (st.code !== code) throw new Error(`expected status ${grpc.status[code]}, got ${statusText(st)}`);
}

/** The messages and final status of one call that answers with a stream, awaited one at a time, each wait bounded. */
class Inbox {
  /** Messages received and not yet taken by next(). */
  readonly unread: string[] = [];
  status?: grpc.StatusObject;
  private wake?: () => void;

  constructor(readonly call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, readonly label: string) {
    call.on("data", (b: Buffer) => {
      this.unread.push(b.toString());
      this.poke();
    });
    call.on("status", (s: grpc.StatusObject) => {
      this.status = s;
      this.poke();
    });
    call.on("error", () => {}); // a non-OK status also comes as "status"
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async until<T>(get: () => T | undefined, what: string, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = get();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: timed out after ${ms} ms waiting for ${what} ${hint}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** The next message, within ms. */
  next(what: string, ms = STEP_MS): Promise<string> {
    return this.until(() => {
      if (this.unread.length) return this.unread.shift();
      if (this.status) throw new Error(`${this.label}: the call ended with ${statusText(this.status)} while waiting for ${what}`);
      return undefined;
    }, what, ms);
  }

  /** The call's final status, within ms. */
  end(ms = STEP_MS): Promise<grpc.StatusObject> {
    return this.until(() => this.status, "the call's final status", ms);
  }

  /** Cancels the call if it has not ended (after a failed test, so nothing keeps running). */
  dispose(): void {
    if (!this.status) this.call.cancel();
  }
}

interface Target {
  name: string;
  /** The port the client calls. */
  port: () => number;
  /** dapr-app-id metadata, if any. */
  appId?: () => string;
}

const targets: Target[] = [
  // A control: the fixture itself, no sidecar; if this fails, the fixture is wrong, not the proxy.
  { name: "directly to the app (control, no sidecar)", port: () => back.appPort! },
  { name: "through two sidecars (A → mTLS → B → app)", port: () => front.grpcPort, appId: () => ids.app },
  { name: "to the sidecar's own app id (B → app, stays local)", port: () => back.grpcPort, appId: () => ids.app },
];

describe.each(targets)("streaming gRPC $name", (target) => {
  let client: grpc.Client;
  beforeAll(() => {
    client = new grpc.Client(`127.0.0.1:${target.port()}`, grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());

  const md = (who = "streaming-test"): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (target.appId) m.set("dapr-app-id", target.appId());
    m.set("x-who", who);
    return m;
  };
  const opts = (): grpc.CallOptions => ({ deadline: Date.now() + CALL_DEADLINE_MS });
  const chat = (label: string, who?: string) => new Inbox(client.makeBidiStreamRequest("/test.Echo/Chat", raw, raw, md(who), opts()), label);
  const slow = (tag: string) => new Inbox(client.makeServerStreamRequest("/test.Echo/Slow", raw, raw, Buffer.from(tag), md(), opts()), `Slow ${tag}`);
  function unary(path: string, body: string): Promise<string> {
    return within(
      new Promise<string>((resolve, reject) => {
        client.makeUnaryRequest(path, raw, raw, Buffer.from(body), md(), opts(), (err, res) => (err ? reject(err) : resolve(res!.toString())));
      }),
      STEP_MS,
      `the answer of ${path}`,
    );
  }

  /** One bidi Chat call: `rounds` times send a message and await its echo before sending the next, then end. */
  async function interleaved(label: string, rounds: number, who?: string): Promise<grpc.StatusObject> {
    const c = chat(label, who);
    try {
      for (let i = 1; i <= rounds; i++) {
        const m = `${label}#${i}`;
        (c.call as grpc.ClientDuplexStream<Buffer, Buffer>).write(Buffer.from(m));
        expect(await c.next(`"echo:${m}" (round ${i} of ${rounds}; the next message is only sent after this answer)`)).toBe(`echo:${m}`);
      }
      (c.call as grpc.ClientDuplexStream<Buffer, Buffer>).end();
      const st = await c.end();
      expect(c.unread).toEqual([]);
      return st;
    } finally {
      c.dispose();
    }
  }

  test("bidi, interleaved: send one message, await its echo, send the next — 20 rounds, then OK with trailers", async () => {
    const st = await interleaved("chat", 20, "bidi-who");
    expectCode(st, grpc.status.OK);
    expect(st.metadata.get("x-who-echo")[0]).toBe("bidi-who");
  }, TEST_MS);

  test("bidi: the app aborts mid-stream; the client gets ABORTED with the app's details", async () => {
    const c = chat("abort");
    const call = c.call as grpc.ClientDuplexStream<Buffer, Buffer>;
    try {
      call.write(Buffer.from("a"));
      expect(await c.next(`"echo:a"`)).toBe("echo:a");
      call.write(Buffer.from("boom")); // the client does not end its side: the app's status alone ends the call
      const st = await c.end();
      expectCode(st, grpc.status.ABORTED);
      expect(st.details).toContain("boom requested");
      expect(c.unread).toEqual([]);
    } finally {
      c.dispose();
    }
  }, TEST_MS);

  test("server streaming: Count 2000 → 2000 messages in order, then OK with the x-who-echo trailer", async () => {
    const n = 2000;
    const c = new Inbox(client.makeServerStreamRequest("/test.Echo/Count", raw, raw, Buffer.from(String(n)), md("counter"), opts()), "Count");
    try {
      const st = await c.end(10_000);
      expectCode(st, grpc.status.OK);
      expect(c.unread.length).toBe(n);
      expect(c.unread).toEqual(Array.from({ length: n }, (_, i) => String(i)));
      expect(st.metadata.get("x-who-echo")[0]).toBe("counter");
    } finally {
      c.dispose();
    }
  }, TEST_MS);

  test("server streaming: messages arrive while the app is still sending (Slow: 3 ticks, then the client cancels)", async () => {
    const c = slow(`ticks-${uid()}`);
    try {
      for (let i = 1; i <= 3; i++) expect(await c.next(`tick ${i} of a call that never ends by itself`)).toBe("tick");
      c.call.cancel();
      expectCode(await c.end(), grpc.status.CANCELLED);
    } finally {
      c.dispose();
    }
  }, TEST_MS);

  test("client streaming: Sum over 100 numbers sent one by one → their sum", async () => {
    const nums = Array.from({ length: 100 }, (_, i) => (i + 1) * (i % 3 === 0 ? -7 : 13));
    let call!: grpc.ClientWritableStream<Buffer>;
    const answer = new Promise<string>((resolve, reject) => {
      call = client.makeClientStreamRequest("/test.Echo/Sum", raw, raw, md(), opts(), (err, res) => (err ? reject(err) : resolve(res!.toString())));
    });
    try {
      for (const n of nums) await new Promise<void>((resolve) => call.write(Buffer.from(String(n)), () => resolve()));
      call.end();
      expect(await within(answer, STEP_MS, "Sum's answer after the client ended")).toBe(String(nums.reduce((a, b) => a + b, 0)));
    } finally {
      call.cancel();
      answer.catch(() => {});
    }
  }, TEST_MS);

  test("cancellation: the client cancels a Slow call after 2 ticks; the app sees the cancellation", async () => {
    const tag = `cancel-${uid()}`;
    const c = slow(tag);
    try {
      for (let i = 1; i <= 2; i++) expect(await c.next(`tick ${i}`)).toBe("tick");
      expect(await unary("/test.Echo/Cancelled", tag)).toBe("no"); // still running
      c.call.cancel();
      expectCode(await c.end(), grpc.status.CANCELLED);
    } finally {
      c.dispose();
    }
    // The app learns of it through every hop; poll up to 3 s.
    const deadline = Date.now() + 3_000;
    let seen = await unary("/test.Echo/Cancelled", tag);
    while (seen !== "yes" && Date.now() < deadline) {
      await Bun.sleep(50);
      seen = await unary("/test.Echo/Cancelled", tag);
    }
    expect(seen).toBe("yes"); // "no": the app never saw the client's cancellation of its Slow call
  }, TEST_MS);

  test("20 concurrent interleaved bidi calls, 10 rounds each, all complete", async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, k) => interleaved(`c${k}`, 10, `who-${k}`)));
    const failures = results.flatMap((r, k) => (r.status === "rejected" ? [`call ${k}: ${r.reason instanceof Error ? r.reason.message : r.reason}`] : []));
    expect(failures).toEqual([]);
    for (const [k, r] of results.entries()) {
      const st = (r as PromiseFulfilledResult<grpc.StatusObject>).value;
      expectCode(st, grpc.status.OK);
      expect(st.metadata.get("x-who-echo")[0]).toBe(`who-${k}`);
    }
  }, TEST_MS);
});

describe("streamed gRPC proxying refused", () => {
  let guarded: Sidecar;
  const guardedId = `gguarded-${uid()}`;
  let client: grpc.Client;
  beforeAll(async () => {
    const conf = cluster.dir("config", {
      "config.yaml": `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: deny-all
spec:
  accessControl:
    defaultAction: deny
    trustDomain: public
`,
    });
    guarded = await cluster.start({ appId: guardedId, app: "invoke-grpc-app.ts", appProtocol: "grpc", args: ["--config", `${conf}/config.yaml`] });
    client = new grpc.Client(`127.0.0.1:${front.grpcPort}`, grpc.credentials.createInsecure());
  }, 30_000);
  afterAll(() => client?.close());

  const chatTo = (appId: string) => {
    const md = new grpc.Metadata();
    md.set("dapr-app-id", appId);
    return new Inbox(client.makeBidiStreamRequest("/test.Echo/Chat", raw, raw, md, { deadline: Date.now() + CALL_DEADLINE_MS }), `Chat to ${appId}`);
  };

  test("access control on the receiving sidecar refuses the stream: PERMISSION_DENIED naming the caller", async () => {
    expect(guarded.grpcPort).toBeGreaterThan(0);
    const c = chatTo(guardedId);
    try {
      (c.call as grpc.ClientDuplexStream<Buffer, Buffer>).write(Buffer.from("1"));
      const st = await c.end();
      expectCode(st, grpc.status.PERMISSION_DENIED);
      expect(st.details).toContain(ids.front);
    } finally {
      c.dispose();
    }
  }, TEST_MS);

  test("an app id nobody serves fails the call with a status that names it, not a hang", async () => {
    const missing = `nobody-${uid()}`;
    const c = chatTo(missing);
    try {
      const st = await c.end(8_000); // the built-in retries for an unreachable sidecar do not apply to "not found"
      expect(st.code).not.toBe(grpc.status.OK);
      expect(st.details).toContain(missing);
    } finally {
      c.dispose();
    }
  }, TEST_MS);
});

describe("streamed gRPC proxying: limits and cancellation", () => {
  let timed: Sidecar; // a front with a resiliency timeout for the app
  let busy: Sidecar & { appPort?: number }; // a gRPC app behind --app-max-concurrency 1
  const busyId = `gbusy-${uid()}`;
  let viaTimed: grpc.Client;
  let viaFront: grpc.Client;
  let viaBusy: grpc.Client;
  beforeAll(async () => {
    const resources = cluster.dir("resiliency", {
      "resiliency.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: stream-timeout
spec:
  policies:
    timeouts:
      short: 400ms
  targets:
    apps:
      ${ids.app}:
        timeout: short
`,
    });
    [timed, busy] = await Promise.all([
      cluster.start({ appId: `gtimed-${uid()}`, args: ["--resources-path", resources] }),
      cluster.start({ appId: busyId, app: "invoke-grpc-app.ts", appProtocol: "grpc", args: ["--app-max-concurrency", "1"] }),
    ]);
    await waitForApp(front, busyId, "ready", { method: "POST", body: "{}" });
    viaTimed = new grpc.Client(`127.0.0.1:${timed.grpcPort}`, grpc.credentials.createInsecure());
    viaFront = new grpc.Client(`127.0.0.1:${front.grpcPort}`, grpc.credentials.createInsecure());
    viaBusy = new grpc.Client(`127.0.0.1:${busy.grpcPort}`, grpc.credentials.createInsecure());
  }, 30_000);
  afterAll(() => {
    viaTimed?.close();
    viaFront?.close();
    viaBusy?.close();
  });

  const mdFor = (appId: string) => {
    const m = new grpc.Metadata();
    m.set("dapr-app-id", appId);
    return m;
  };
  const slowVia = (c: grpc.Client, appId: string, tag: string) =>
    new Inbox(c.makeServerStreamRequest("/test.Echo/Slow", raw, raw, Buffer.from(tag), mdFor(appId), { deadline: Date.now() + CALL_DEADLINE_MS }), `Slow ${tag}`);
  const cancelledVia = (c: grpc.Client, appId: string, tag: string) =>
    within(
      new Promise<string>((resolve, reject) =>
        c.makeUnaryRequest("/test.Echo/Cancelled", raw, raw, Buffer.from(tag), mdFor(appId), (err, res) => (err ? reject(err) : resolve(res!.toString()))),
      ),
      STEP_MS,
      "Cancelled",
    );

  test("the answering sidecar's identity header never reaches the caller", async () => {
    const headers = await within(
      new Promise<grpc.Metadata>((resolve, reject) => {
        const call = viaFront.makeUnaryRequest("/test.Echo/Say", raw, raw, Buffer.from("hi"), mdFor(ids.app), (err) => err && reject(err));
        call.on("metadata", resolve);
      }),
      STEP_MS,
      "the response headers",
    );
    expect(Object.keys(headers.getMap()).filter((k) => k.startsWith("rapr-"))).toEqual([]);
  }, TEST_MS);

  test("a resiliency timeout bounds the whole streamed call: DEADLINE_EXCEEDED, and the app sees the cancellation", async () => {
    const tag = `timeout-${uid()}`;
    const c = slowVia(viaTimed, ids.app, tag);
    try {
      expect(await c.next("the first tick")).toBe("tick");
      const st = await c.end(3_000);
      expectCode(st, grpc.status.DEADLINE_EXCEEDED);
      expect(st.details).toContain("400 ms");
    } finally {
      c.dispose();
    }
    await waitFor(async () => (await cancelledVia(viaFront, ids.app, tag)) === "yes", "the app to see the cancellation", 3_000);
  }, TEST_MS);

  test.each([
    ["through two sidecars", () => viaFront],
    ["to the sidecar's own app id (the wait is in the calling sidecar)", () => viaBusy],
  ])("a call cancelled while it waits for the app's only slot never reaches the app nor holds the slot (%s)", async (_name, via) => {
    const c = via();
    const first = slowVia(c, busyId, `holder-${uid()}`);
    expect(await first.next("the first call's tick")).toBe("tick"); // it holds --app-max-concurrency 1
    const waitingTag = `waiting-${uid()}`;
    const waiting = slowVia(c, busyId, waitingTag);
    await Bun.sleep(200);
    waiting.call.cancel();
    expectCode(await waiting.end(), grpc.status.CANCELLED);
    first.call.cancel();
    await first.end().catch(() => undefined);
    // The slot is free again: were the cancelled call opened and left running, this one would wait forever.
    const next = slowVia(c, busyId, `after-${uid()}`);
    try {
      expect(await next.next("a tick once the slot is free")).toBe("tick");
    } finally {
      next.call.cancel();
      next.dispose();
    }
    // And the app never heard of the call that left while it waited (it would have seen it start and be cancelled).
    expect(await cancelledVia(c, busyId, waitingTag)).toBe("no");
  }, TEST_MS);
});
