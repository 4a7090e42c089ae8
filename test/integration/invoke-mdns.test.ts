// nameresolution.mdns, exercised only inside a private network namespace (`unshare -n`: nothing but a loopback
// interface with multicast routed to it), so no multicast leaves this process tree. Without root or unshare
// the test is skipped with the reason. The outer test re-runs this file inside the namespace.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MdnsResolver } from "../../plugins/nameresolution.mdns/index.js";
import { decodeMessage, encodeQuery, encodeTxtResponse } from "../../plugins/nameresolution.mdns/dns.js";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { FIXTURES, uid } from "../invoke/support.js";
import { componentYaml } from "../support/components.js";

const inside = process.env.RAPR_TEST_IN_NETNS === "1";

test("DNS messages: TXT query and response round trip", () => {
  const q = decodeMessage(encodeQuery("orders.default._rapr._tcp.local"));
  expect(q).toEqual({ kind: "query", name: "orders.default._rapr._tcp.local", type: 16 });
  const r = decodeMessage(encodeTxtResponse([{ name: "Orders.default._rapr._tcp.local", ttl: 120, texts: ["address=mtls://127.0.0.1:7000", "pid=42"] }]));
  expect(r).toEqual({ kind: "response", answers: [{ name: "orders.default._rapr._tcp.local", ttl: 120, texts: ["address=mtls://127.0.0.1:7000", "pid=42"] }] });
  expect(decodeMessage(new Uint8Array([1, 2, 3]))).toBeUndefined();
});

if (!inside) {
  const canUnshare = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("ip") !== null;
  test.skipIf(!canUnshare)("mDNS tests inside a private network namespace (skipped without root, unshare and ip)", async () => {
    const setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec \"$0\" test \"$1\"";
    const proc = Bun.spawn(["unshare", "-n", "sh", "-c", setup, process.execPath, import.meta.path], {
      env: { ...process.env, RAPR_TEST_IN_NETNS: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) console.error(out + err);
    expect(code).toBe(0);
    expect(err).toMatch(/[1-9]\d* pass/);
    expect(err).toMatch(/ 0 fail/);
  }, 90_000);
} else {
  const root = mkdtempSync(join(tmpdir(), "rapr-mdns-"));
  const started: Sidecar[] = [];
  afterAll(async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  describe("inside the namespace", () => {
    test("two resolvers: register, resolve, goodbye", async () => {
      const opts = { port: 5353, group: "224.0.0.251", timeoutMs: 1000, ttlSeconds: 120 };
      const a = await MdnsResolver.create(opts);
      const b = await MdnsResolver.create(opts);
      try {
        await a.register({ appId: "orders", namespace: "default", address: "mtls://127.0.0.1:7001", pid: 1 });
        expect(await b.resolve("orders")).toEqual(["mtls://127.0.0.1:7001"]);
        expect(await b.resolve("nobody")).toEqual([]);
        await a.unregister();
        await waitFor(async () => (await b.resolve("orders")).length === 0, "the goodbye to reach b", 5000, 50);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test("two compiled sidecars with a nameresolution.mdns Component find each other", async () => {
      const res = join(root, "resources");
      mkdirSync(res, { recursive: true });
      writeFileSync(join(res, "mdns.yaml"), componentYaml("mdns", "nameresolution.mdns", { timeoutMs: "1000" }));
      const common = ["--resources-path", res, "--mtls-ca-dir", join(root, "ca"), "--enable-metrics=false"];
      const calleeId = `mdns-callee-${uid()}`;
      const appPort = await freePort();
      // Separate same-host registries: only mDNS can connect them.
      const callee = await startSidecar({ appId: calleeId, args: [...common, "--app-port", String(appPort)], env: { RAPR_REGISTRY_DIR: join(root, "r1") }, appCommand: [process.execPath, join(FIXTURES, "invoke-echo-app.ts")] });
      started.push(callee);
      const caller = await startSidecar({ appId: `mdns-caller-${uid()}`, args: common, env: { RAPR_REGISTRY_DIR: join(root, "r2") } });
      started.push(caller);
      const body = await waitFor(async () => {
        const r = await caller.http(`/v1.0/invoke/${calleeId}/method/over-mdns`);
        return r.status === 200 ? ((await r.json()) as any) : undefined;
      }, "invocation resolved over mDNS", 20_000, 200);
      expect(body.path).toBe("/over-mdns");
    }, 40_000);
  });
}
