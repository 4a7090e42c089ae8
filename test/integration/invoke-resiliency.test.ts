// Resiliency (kind: Resiliency) applied to invocation targets by the calling sidecar: retries, timeouts and
// a circuit breaker, observed through the callee app's own call counters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";

let cluster: Cluster;
let caller: Sidecar;
let retryApp: Sidecar & { appPort?: number };
let breakerApp: Sidecar & { appPort?: number };
const ids = { caller: `rcaller-${uid()}`, retry: `retry-${uid()}`, breaker: `breaker-${uid()}`, gone: `gone-${uid()}` };

beforeAll(async () => {
  cluster = newCluster("invoke-res");
  const resources = cluster.dir("resources", {
    "resiliency.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: invoke-policies
spec:
  policies:
    timeouts:
      short: 300ms
    retries:
      quick:
        policy: constant
        duration: 20ms
        maxRetries: 3
    circuitBreakers:
      tripAfterThree:
        maxRequests: 1
        interval: 0s
        timeout: 60s
        trip: consecutiveFailures > 2
  targets:
    apps:
      ${ids.retry}:
        timeout: short
        retry: quick
      ${ids.breaker}:
        circuitBreaker: tripAfterThree
      ${ids.gone}:
        retry: quick
`,
  });
  [caller, retryApp, breakerApp] = await Promise.all([
    cluster.start({ appId: ids.caller, args: ["--resources-path", resources] }),
    cluster.start({ appId: ids.retry, app: "invoke-echo-app.ts" }),
    cluster.start({ appId: ids.breaker, app: "invoke-echo-app.ts" }),
  ]);
  await waitForApp(caller, ids.retry, "ready");
  await waitForApp(caller, ids.breaker, "ready");
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

const count = async (app: { appPort?: number }, key: string) => Number(await (await fetch(`http://127.0.0.1:${app.appPort}/count/${key}`)).text());

describe("retries", () => {
  test("a 500 from the app is retried until it succeeds", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.retry}/method/flaky/k1/2`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("ok after 2");
    expect(await count(retryApp, "k1")).toBe(3);
  });

  test("when retries run out, the app's last answer comes back as is", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.retry}/method/flaky/k2/100`);
    expect(r.status).toBe(500);
    expect(await r.text()).toBe("fail 4");
    expect(await count(retryApp, "k2")).toBe(4); // 1 call + maxRetries 3
  });

  test("a 4xx answer is not a failure and is not retried", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.retry}/method/status/409`);
    expect(r.status).toBe(409);
  });
});

describe("timeouts", () => {
  test("a call slower than the policy's timeout fails with ERR_DIRECT_INVOKE naming the timeout", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.retry}/method/slow/5000`);
    expect(r.status).toBe(500);
    const e = (await r.json()) as any;
    expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(e.message).toContain("timeout of 300 ms");
  });
});

describe("circuit breaker", () => {
  test("after consecutiveFailures > 2 the breaker opens and calls fail fast without reaching the app", async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await caller.http(`/v1.0/invoke/${ids.breaker}/method/flaky/cb/100`);
      expect(r.status).toBe(500);
      expect(await r.text()).toBe(`fail ${i}`);
    }
    const open = await caller.http(`/v1.0/invoke/${ids.breaker}/method/flaky/cb/100`);
    expect(open.status).toBe(500);
    const e = (await open.json()) as any;
    expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(e.message).toContain("circuit breaker");
    expect(await count(breakerApp, "cb")).toBe(3);
    // Other apps are not affected by this app's breaker.
    expect((await caller.http(`/v1.0/invoke/${ids.retry}/method/fine`)).status).toBe(200);
  });
});

describe("target sidecar down", () => {
  test("the call is retried under the target's policy, then fails with a clear error", async () => {
    const gone = await cluster.start({ appId: ids.gone, app: "invoke-echo-app.ts" });
    await waitForApp(caller, ids.gone, "ready");
    gone.proc.kill("SIGKILL");
    await gone.proc.exited;
    const r = await caller.http(`/v1.0/invoke/${ids.gone}/method/x`);
    expect(r.status).toBe(500);
    const e = (await r.json()) as any;
    expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(e.message).toContain(ids.gone);
  }, 20_000);
});
