// Access control (Configuration spec.accessControl) enforced by the receiving sidecar on the caller identity
// from its mTLS certificate; and app health: an unhealthy app stops receiving invocations and the caller is
// told why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../support/ports.js";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";

let cluster: Cluster;
let guarded: Sidecar;
let friend: Sidecar;
let stranger: Sidecar;
let healthApp: Sidecar & { appPort?: number };
let limited: Sidecar & { appPort?: number };
const ids = { guarded: `guarded-${uid()}`, friend: `friend-${uid()}`, stranger: `stranger-${uid()}`, health: `health-${uid()}`, limited: `limited-${uid()}` };

beforeAll(async () => {
  cluster = newCluster("invoke-sec");
  const conf = cluster.dir("config", {
    "config.yaml": `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: acl
spec:
  accessControl:
    defaultAction: deny
    trustDomain: public
    policies:
      - appId: ${ids.friend}
        defaultAction: deny
        trustDomain: public
        namespace: default
        operations:
          - name: /open
            httpVerb: ["GET", "POST"]
            action: allow
          - name: /open/secret/*
            httpVerb: ["*"]
            action: deny
          - name: /items/*/read
            httpVerb: ["GET"]
            action: allow
`,
  });
  [guarded, friend, stranger, healthApp, limited] = await Promise.all([
    cluster.start({ appId: ids.guarded, app: "invoke-echo-app.ts", args: ["--config", `${conf}/config.yaml`] }),
    cluster.start({ appId: ids.friend }),
    cluster.start({ appId: ids.stranger }),
    cluster.start({
      appId: ids.health,
      app: "invoke-echo-app.ts",
      args: ["--enable-app-health-check", "--app-health-check-path", "/healthz", "--app-health-probe-interval", "1", "--app-health-threshold", "1"],
    }),
    cluster.start({ appId: ids.limited, app: "invoke-echo-app.ts", args: ["--app-max-concurrency", "1"] }),
  ]);
  await waitForApp(friend, ids.limited, "ready");
  await waitForApp(friend, ids.guarded, "open");
  await waitForApp(friend, ids.health, "ready");
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

async function status(from: Sidecar, method: string, verb = "GET"): Promise<{ status: number; body: any }> {
  const r = await from.http(`/v1.0/invoke/${ids.guarded}/method/${method}`, { method: verb, body: verb === "GET" ? undefined : "x" });
  const text = await r.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, body };
}

describe("access control on the receiving sidecar", () => {
  test("an allowed caller reaches allowed operations (the path and everything below it)", async () => {
    expect((await status(friend, "open")).status).toBe(200);
    expect((await status(friend, "open/sub/path", "POST")).status).toBe(200);
    expect((await status(friend, "items/42/read")).status).toBe(200);
  });

  test("the same caller is denied a verb the operation does not list", async () => {
    const r = await status(friend, "open", "DELETE");
    expect(r.status).toBe(403);
    expect(r.body.errorCode).toBe("ERR_PERMISSION_DENIED");
    expect(r.body.message).toContain(`spiffe://public/ns/default/${ids.friend}`);
  });

  test("a more specific deny rule wins over the allowed prefix", async () => {
    expect((await status(friend, "open/secret/x")).status).toBe(403);
  });

  test("operations not listed fall to the policy's defaultAction (deny)", async () => {
    expect((await status(friend, "elsewhere")).status).toBe(403);
    expect((await status(friend, "items/42/write")).status).toBe(403);
  });

  test("a caller without a policy gets the global defaultAction (deny)", async () => {
    const r = await status(stranger, "open");
    expect(r.status).toBe(403);
    expect(r.body.errorCode).toBe("ERR_PERMISSION_DENIED");
  });

  test("claiming another app id in headers does not help: identity comes from the certificate", async () => {
    const r = await stranger.http(`/v1.0/invoke/${ids.guarded}/method/open`, {
      headers: { "rapr-caller-app": ids.friend, "dapr-caller-app-id": ids.friend, "rapr-peer-id": `spiffe://public/ns/default/${ids.friend}` },
    });
    expect(r.status).toBe(403);
  });

  test("calls from the guarded app to itself stay local and are not subject to the policy", async () => {
    const r = await guarded.http(`/v1.0/invoke/${ids.guarded}/method/anything`);
    expect(r.status).toBe(200);
  });
});

describe("app channel", () => {
  test("--app-max-concurrency 1: concurrent invocations reach the app one at a time, and all succeed", async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => friend.http(`/v1.0/invoke/${ids.limited}/method/slow/100`).then((r) => r.status)));
    expect(results).toEqual([200, 200, 200, 200]);
    expect(await (await fetch(`http://127.0.0.1:${limited.appPort}/max-in-flight`)).text()).toBe("1");
    // The same load on an app without the limit overlaps (so the check above is not vacuous).
    await Promise.all(Array.from({ length: 4 }, () => friend.http(`/v1.0/invoke/${ids.health}/method/slow/300`)));
    expect(Number(await (await fetch(`http://127.0.0.1:${healthApp.appPort}/max-in-flight`)).text())).toBeGreaterThan(1);
  });
});

describe("app health", () => {
  test("an unhealthy app stops receiving invocations with a clear error, and receives them again once healthy", async () => {
    expect((await friend.http(`/v1.0/invoke/${ids.health}/method/ping`)).status).toBe(200);
    // Tell the app (directly, not through the sidecar) to fail its health checks.
    await fetch(`http://127.0.0.1:${healthApp.appPort}/health/off`);
    const failed = await waitFor(async () => {
      const r = await friend.http(`/v1.0/invoke/${ids.health}/method/ping`);
      return r.status === 500 ? ((await r.json()) as any) : undefined;
    }, "the sidecar to mark its app unhealthy", 10_000, 100);
    expect(failed.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(failed.message).toContain("unhealthy");
    await fetch(`http://127.0.0.1:${healthApp.appPort}/health/on`);
    await waitFor(async () => (await friend.http(`/v1.0/invoke/${ids.health}/method/ping`)).status === 200, "the app to be healthy again", 10_000, 100);
  }, 30_000);
});
