// Command lines written for daprd and the dapr CLI: every daprd flag accepted, the app's whole process group stopped,
// free ports for `rapr run` with an app, and multi-app run templates with `rapr run -f`, `rapr list`, `rapr stop`.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, waitFor } from "../support/ports.js";
import { runRapr } from "../support/rapr-cli.js";
import { RAPR_BIN } from "../support/sidecar.js";
import { componentYaml } from "../support/components.js";
import { missing, NATS_URL } from "../support/backends.js";
import { isAlive } from "../../src/cli/sidecar-registry.js";

setDefaultTimeout(60_000);

const scratch = mkdtempSync(join(tmpdir(), "rapr-compat-"));
/** A HOME of the tests' own: the registry of running sidecars (~/.rapr/run) and the default data dir live there. */
const HOME = join(scratch, "home");
mkdirSync(HOME);
const BUN = process.execPath;
const started: Subprocess[] = [];
const pidsToReap: number[] = [];
afterAll(() => {
  for (const p of started) p.kill("SIGKILL");
  for (const pid of pidsToReap) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(scratch, { recursive: true, force: true });
});

function spawnRapr(args: string[], env: Record<string, string> = {}, cwd?: string): Subprocess<"ignore", "pipe", "pipe"> {
  const proc = Bun.spawn([RAPR_BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd, env: { ...process.env, RAPR_LOG_LEVEL: "", HOME, ...env } });
  started.push(proc);
  return proc;
}

async function output(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<string> {
  const [o, e] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return o + e;
}

async function healthy(url: string, proc: Subprocess, init?: RequestInit): Promise<void> {
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`rapr exited with ${proc.exitCode}`);
    return (await fetch(url, init)).status === 204;
  }, `rapr at ${url} to become healthy`, 20_000);
}

async function stopped(proc: Subprocess): Promise<number | string> {
  proc.kill("SIGTERM");
  return await Promise.race([proc.exited, Bun.sleep(20_000).then(() => "still running")]);
}

describe("daprd's flags", () => {
  test("a daprd command line as a Kubernetes sidecar spec writes it starts rapr, with one warning for what rapr does not use", async () => {
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
    const [http, grpc, internal, pub, metrics] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const config = join(scratch, "k8s-config.yaml");
    writeFileSync(config, "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: appconfig}\nspec:\n  tracing: {samplingRate: \"1\"}\n  features: [{name: Foo, enabled: true}]\n  accessControl: {defaultAction: allow}\n");
    const proc = spawnRapr([
      "run",
      "--mode", "kubernetes",
      "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc), "--dapr-internal-grpc-port", String(internal),
      "--dapr-listen-addresses", "[::1],127.0.0.1", "--dapr-public-port", String(pub),
      "--app-port", String(app.port), "--app-id", "k8s-app",
      "--control-plane-address", "dapr-api.dapr-system.svc.cluster.local:80", "--app-protocol", "http",
      "--placement-host-address", "dapr-placement-server.dapr-system.svc.cluster.local:50005",
      "--scheduler-host-address", "dapr-scheduler-server-0.dapr-system.svc.cluster.local:50006",
      "--config", config, "--log-level", "info", "--app-max-concurrency", "-1",
      "--sentry-address", "dapr-sentry.dapr-system.svc.cluster.local:443",
      "--enable-metrics=true", "--metrics-port", String(metrics),
      "--dapr-http-max-request-size", "-1", "--dapr-http-read-buffer-size", "-1", "--dapr-graceful-shutdown-seconds", "-1",
      "--disable-builtin-k8s-secret-store=true", "--enable-mtls", "--app-channel-address", "127.0.0.1",
      "--enable-api-logging=false", "--control-plane-trust-domain", "cluster.local", "--control-plane-namespace", "dapr-system",
      "--data-dir", join(scratch, "k8s-data"),
    ]);
    try {
      await healthy(`http://127.0.0.1:${http}/v1.0/healthz`, proc);
      expect(await stopped(proc)).toBe(0);
      const log = await output(proc);
      const warnings = log.split("\n").filter((l) => l.includes("accepted for compatibility, not used"));
      expect(warnings).toHaveLength(1);
      for (const flag of ["--mode", "--placement-host-address", "--scheduler-host-address", "--control-plane-address", "--sentry-address", "--dapr-public-port", "--disable-builtin-k8s-secret-store"]) expect(warnings[0]).toContain(flag);
      expect(warnings[0]).toContain("no placement or scheduler service is needed");
      const configWarning = log.split("\n").filter((l) => l.includes("not implemented yet"));
      expect(configWarning).toHaveLength(1);
      expect(configWarning[0]).toContain("spec.tracing, spec.features");
      expect(configWarning[0]).not.toContain("spec.accessControl");
    } finally {
      proc.kill("SIGKILL");
      app.stop(true);
    }
  });

  test("a daprd command line as `dapr run` writes it: --max-body-size and --app-ssl take effect", async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    const proc = spawnRapr([
      "run", "--app-id", "cli-app", "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc),
      "--log-level", "warn", "--app-max-concurrency", "-1", "--app-protocol", "http",
      "--placement-host-address", "localhost:50005", "--scheduler-host-address", "localhost:50006",
      "--max-body-size", "1Ki", "--read-buffer-size", "4Ki", "--enable-profiling", "--profile-port", "-1",
      "--metrics-port", "0", "--resources-path", join(scratch, "no-resources"),
      "--data-dir", join(scratch, "cli-data"),
    ]);
    mkdirSync(join(scratch, "no-resources"), { recursive: true });
    try {
      await healthy(`http://127.0.0.1:${http}/v1.0/healthz`, proc);
      const big = await fetch(`http://127.0.0.1:${http}/v1.0/state/none`, { method: "POST", body: "x".repeat(2048) });
      expect(big.status).toBe(413);
      expect(((await big.json()) as any).errorCode).toBe("ERR_BODY_TOO_LARGE");
      const meta = (await (await fetch(`http://127.0.0.1:${http}/v1.0/metadata`)).json()) as any;
      expect(meta.id).toBe("cli-app");
      expect(await stopped(proc)).toBe(0);
      expect(await output(proc)).toContain("--enable-profiling");
    } finally {
      proc.kill("SIGKILL");
    }
    const ssl = spawnRapr(["run", "--app-id", "ssl-app", "--app-ssl", "--app-protocol", "grpc", "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc), "--metrics-port", "0", "--data-dir", join(scratch, "ssl-data"), "--log-level", "warn"]);
    try {
      await healthy(`http://127.0.0.1:${http}/v1.0/healthz`, ssl);
      const meta = (await (await fetch(`http://127.0.0.1:${http}/v1.0/metadata`)).json()) as any;
      expect(meta.appConnectionProperties?.protocol).toBe("grpcs");
    } finally {
      ssl.kill("SIGKILL");
      await ssl.exited;
    }
  });

  test("--unix-domain-socket: the APIs listen on dapr-http-<id>.socket and dapr-grpc-<id>.socket in that folder", async () => {
    const dir = join(scratch, "uds");
    const proc = spawnRapr(["run", "--app-id", "uds-app", "-u", dir, "--metrics-port", "0", "--data-dir", join(scratch, "uds-data"), "--log-level", "warn"]);
    try {
      await healthy("http://localhost/v1.0/healthz", proc, { unix: join(dir, "dapr-http-uds-app.socket") } as RequestInit);
      expect(readdirSync(dir).sort()).toEqual(["dapr-grpc-uds-app.socket", "dapr-http-uds-app.socket"]);
      expect(await stopped(proc)).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });

  const usageErrors: [string[], RegExp][] = [
    [["run", "-x"], /^rapr: unknown flag -x \(see rapr run --help\)$/],
    [["stop", "-q"], /^rapr: unknown flag -q \(see rapr stop --help\)$/],
    [["run", "--max-body-size", "lots"], /invalid value "lots" for flag --max-body-size/],
    [["run", "--dapr-http-port", "4000", "--dapr-grpc-port", "4000"], /--dapr-http-port and --dapr-grpc-port are both 4000/],
    [["run", "-f", join(tmpdir(), "no-such-template-dir")], /run template .*: no such file or folder/],
    [["stop"], /rapr stop needs --app-id <id> or -f <run template>/],
  ];
  test.each(usageErrors)("rapr %p: exit 2 with one line naming the flag as typed", async (args, message) => {
    const r = await runRapr(args, { env: { HOME } });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(message);
  });
});

describe("the app's process group", () => {
  // npm run start, or a shell wrapper, leaves the real app a grandchild of rapr.
  const wrappers: [string, (dir: string) => string[], boolean][] = [
    ["sh -c with a background child", (dir) => ["sh", "-c", `sleep 1000 & echo $! > ${dir}/grandchild; wait`], true],
    ["npm run start", (dir) => {
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "wrapped", private: true, scripts: { start: `${BUN} child.js` } }));
      writeFileSync(join(dir, "child.js"), `require("fs").writeFileSync("grandchild", String(process.pid)); setInterval(() => {}, 1000);`);
      return ["npm", "run", "start"];
    }, Bun.which("npm") !== null],
    ["a grandchild that ignores SIGTERM (killed after the grace)", (dir) => ["sh", "-c", `sh -c 'trap "" TERM; echo $$ > ${dir}/grandchild; while :; do sleep 0.2; done' & wait`], true],
  ];
  for (const [name, command, available] of wrappers) {
    test.skipIf(!available)(`SIGTERM to rapr leaves no process of the app behind: ${name}`, async () => {
      const dir = mkdtempSync(join(scratch, "group-"));
      const proc = spawnRapr(["run", "--app-id", "wrapped", "--dapr-graceful-shutdown-seconds", "1", "--data-dir", join(dir, "data"), "--log-level", "info", "--", ...command(dir)], {}, dir);
      const grandchild = Number(await waitFor(() => existsSync(join(dir, "grandchild")) && readFileSync(join(dir, "grandchild"), "utf8").trim(), "the app's grandchild to start", 20_000));
      pidsToReap.push(grandchild);
      expect(isAlive(grandchild)).toBe(true);
      expect(await stopped(proc)).toBe(0);
      await waitFor(() => !isAlive(grandchild), "the grandchild to be gone", 5_000);
      const log = await output(proc);
      expect(log).toContain("stopped");
    });
  }
});

describe("ports of rapr run with an app", () => {
  test("ports the user did not set are free ones passed to the app; --dapr-grpc-port 3500 alone no longer collides with HTTP", async () => {
    const grpc = await freePort();
    const out = join(scratch, "ports.txt");
    const r = await runRapr(["run", "--app-id", "order-processor", "--app-protocol", "grpc", "--dapr-grpc-port", String(grpc), "--data-dir", join(scratch, "ports-data"), "--log-level", "error",
      "--", "sh", "-c", `echo "$DAPR_HTTP_PORT $DAPR_GRPC_PORT" > ${out}`], { env: { HOME }, timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    const [httpPort, grpcPort] = readFileSync(out, "utf8").trim().split(" ").map(Number);
    expect(grpcPort).toBe(grpc);
    expect(httpPort).toBeGreaterThan(0);
    expect(httpPort).not.toBe(3500);
    expect(httpPort).not.toBe(grpc);
  });

  test("a port already taken is named by its flag", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      for (const flag of ["--dapr-http-port", "--dapr-grpc-port"]) {
        const r = await runRapr(["run", "--app-id", "taken", flag, String(holder.port), "--metrics-port", "0", "--data-dir", join(scratch, "taken-data"), "--log-level", "error", "--", "sh", "-c", "sleep 5"], { env: { HOME }, timeoutMs: 20_000 });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`port ${holder.port} of ${flag} is already in use`);
      }
    } finally {
      holder.stop(true);
    }
  });
});

describe.skipIf(await missing("nats"))("multi-app run templates", () => {
  const streamPrefix = `raprcompat-${Math.random().toString(36).slice(2, 8)}-`;
  afterAll(async () => {
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(streamPrefix)) await jsm.streams.delete(s.config.name);
    await nc.close();
  });

  test("rapr run -f starts a publisher and a subscriber; rapr list shows them; rapr stop --app-id and -f leave no process behind", async () => {
    const root = mkdtempSync(join(scratch, "template-"));
    mkdirSync(join(root, "resources"));
    writeFileSync(join(root, "resources", "pubsub.yaml"), componentYaml("orderpubsub", "pubsub.nats", { natsURL: NATS_URL, streamPrefix }));
    mkdirSync(join(root, "checkout"));
    mkdirSync(join(root, "order-processor"));
    // The publisher publishes until told the subscriber got an order, then idles; each app notes its pid (and a child's).
    writeFileSync(join(root, "checkout", "app.js"), `
      const fs = require("fs");
      fs.writeFileSync("pid", String(process.pid));
      let n = 0;
      const timer = setInterval(async () => {
        if (fs.existsSync("../order-processor/got") || ++n > 200) return clearInterval(timer);
        await fetch("http://127.0.0.1:" + process.env.DAPR_HTTP_PORT + "/v1.0/publish/orderpubsub/orders", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ orderId: n }) }).catch(() => {});
        console.log("published order " + n);
      }, 200);
      setInterval(() => {}, 1000);
    `);
    writeFileSync(join(root, "order-processor", "app.js"), `
      const fs = require("fs");
      fs.writeFileSync("pid", String(process.pid));
      Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.APP_PORT), async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/dapr/subscribe") return Response.json([{ pubsubname: "orderpubsub", topic: "orders", route: "/orders" }]);
        if (path === "/orders") { const e = await req.json(); fs.writeFileSync("got", JSON.stringify(e.data)); console.log("subscriber received " + JSON.stringify(e.data)); return Response.json({ status: "SUCCESS" }); }
        return new Response("", { status: 404 });
      } });
    `);
    const appPort = await freePort();
    writeFileSync(join(root, "dapr.yaml"), [
      "version: 1",
      "common:",
      "  resourcesPath: ./resources",
      "  logLevel: info",
      "  env:",
      "    DEBUG: true",
      "apps:",
      "  - appID: order-processor",
      "    appDirPath: ./order-processor/",
      `    appPort: ${appPort}`,
      `    command: ["${BUN}", "app.js"]`,
      "  - appID: checkout",
      "    appDirPath: ./checkout/",
      "    appProtocol: HTTP",
      `    command: ["${BUN}", "app.js"]`,
      "",
    ].join("\n"));
    const cli = spawnRapr(["run", "-f", root]);
    const outputText = output(cli);
    const got = await waitFor(() => existsSync(join(root, "order-processor", "got")) && readFileSync(join(root, "order-processor", "got"), "utf8"), "the subscriber to receive an order", 30_000);
    expect(JSON.parse(got)).toHaveProperty("orderId");
    const appPids = ["checkout", "order-processor"].map((d) => Number(readFileSync(join(root, d, "pid"), "utf8")));
    pidsToReap.push(...appPids);

    const listed = await runRapr(["list", "-o", "json"], { env: { HOME } });
    expect(listed.code).toBe(0);
    const sidecars = JSON.parse(listed.stdout) as { appId: string; pid: number; cliPid: number; appPid: number; appPort: number; httpPort: number; runTemplatePath: string; appLogPath: string }[];
    expect(sidecars.map((s) => s.appId).sort()).toEqual(["checkout", "order-processor"]);
    for (const s of sidecars) {
      expect(s.cliPid).toBe(cli.pid);
      expect(s.runTemplatePath).toBe(join(root, "dapr.yaml"));
      expect(s.httpPort).toBeGreaterThan(0);
      expect(s.appLogPath).toStartWith(join(root, s.appId, ".dapr", "logs", `${s.appId}_app_`));
    }
    expect(sidecars.find((s) => s.appId === "order-processor")!.appPort).toBe(appPort);
    const table = await runRapr(["list"], { env: { HOME } });
    expect(table.stdout.split("\n")[0].trim().split(/\s{2,}/)).toEqual(["APP ID", "HTTP PORT", "GRPC PORT", "APP PORT", "COMMAND", "AGE", "CREATED", "PID"]);

    const subscriber = sidecars.find((s) => s.appId === "order-processor")!;
    const stopOne = await runRapr(["stop", "--app-id", "order-processor"], { env: { HOME }, timeoutMs: 30_000 });
    expect(stopOne.code).toBe(0);
    expect(isAlive(subscriber.pid)).toBe(false);
    expect(isAlive(subscriber.appPid)).toBe(false);
    expect(JSON.parse((await runRapr(["list", "-o", "json"], { env: { HOME } })).stdout).map((s: { appId: string }) => s.appId)).toEqual(["checkout"]);

    const stopAll = await runRapr(["stop", "-f", root], { env: { HOME }, timeoutMs: 30_000 });
    expect(stopAll.code).toBe(0);
    expect(await Promise.race([cli.exited, Bun.sleep(10_000).then(() => "still running")])).toBe(0);
    for (const pid of [cli.pid, ...sidecars.map((s) => s.pid), ...appPids]) expect(isAlive(pid)).toBe(false);
    expect(JSON.parse((await runRapr(["list", "-o", "json"], { env: { HOME } })).stdout)).toEqual([]);

    // Per-app logs where the dapr CLI writes them: the app's output, and the sidecar's log.
    const logs = readdirSync(join(root, "order-processor", ".dapr", "logs"));
    const appLog = logs.find((l) => /^order-processor_app_\d{14}\.log$/.test(l))!;
    const daprdLog = logs.find((l) => /^order-processor_daprd_\d{14}\.log$/.test(l))!;
    expect(readFileSync(join(root, "order-processor", ".dapr", "logs", appLog), "utf8")).toContain("subscriber received");
    expect(readFileSync(join(root, "order-processor", ".dapr", "logs", daprdLog), "utf8")).toContain("rapr is ready");
    expect(await outputText).toContain("subscriber received"); // appLogDestination fileAndConsole
  });
});
