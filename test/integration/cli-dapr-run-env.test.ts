// What `dapr run` gives the app and daprd, through the compiled binary: the exact daprd command line the dapr CLI
// writes (--app-port 0 for no app port), the app's environment (APP_ID, DAPR_*_PORT, DAPR_METRICS_PORT, APP_PROTOCOL,
// APP_CHANNEL_ADDRESS; a unix:// gRPC endpoint in socket mode), the daprd flags the current
// Kubernetes injector writes, `rapr run -f`'s "== APP - <id> ==" lines, and `rapr list` / `rapr stop` never taking a
// process that merely reuses a dead sidecar's pid for that sidecar.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { runRapr } from "../support/rapr-cli.js";
import { RAPR_BIN } from "../support/sidecar.js";
import { isAlive } from "../../src/cli/sidecar-registry.js";

setDefaultTimeout(60_000);

const scratch = mkdtempSync(join(tmpdir(), "rapr-run-env-"));
const HOME = join(scratch, "home");
mkdirSync(HOME);
const BUN = process.execPath;
const started: Subprocess[] = [];
afterAll(async () => {
  for (const p of started) p.kill("SIGKILL");
  await Promise.all(started.map((p) => p.exited));
  rmSync(scratch, { recursive: true, force: true });
});

function spawnRapr(args: string[]): Subprocess<"ignore", "pipe", "pipe"> {
  const proc = Bun.spawn([RAPR_BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, RAPR_LOG_LEVEL: "", HOME } });
  started.push(proc);
  return proc;
}

async function output(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<string> {
  const [o, e] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return o + e;
}

async function stopped(proc: Subprocess): Promise<number | string> {
  proc.kill("SIGTERM");
  return await Promise.race([proc.exited, Bun.sleep(20_000).then(() => "still running")]);
}

/** An app that writes its environment (as JSON) to `file`, then idles. */
function envDumpingApp(file: string): string[] {
  return [BUN, "-e", `require("fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.env)); setInterval(() => {}, 1000);`];
}

async function appEnv(file: string): Promise<Record<string, string>> {
  return JSON.parse(await waitFor(() => existsSync(file) && readFileSync(file, "utf8"), "the app to write its environment", 20_000));
}

describe("dapr run's command line and the app's environment", () => {
  test("the daprd flags `dapr run` writes (--app-port 0, --profile-port -1, quantities, placement and scheduler) start rapr; the app gets dapr run's variables; /healthz is ready without an app port", async () => {
    const [http, grpc, metrics, internal] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const config = join(scratch, "config.yaml");
    writeFileSync(config, "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: daprConfig}\nspec: {}\n");
    mkdirSync(join(scratch, "components"), { recursive: true });
    const envFile = join(scratch, "env.json");
    // As pkg/standalone/run.go getArgs orders them for `dapr run --app-id myapp -- <command>`.
    const proc = spawnRapr([
      "run", "--config", config, "--app-protocol", "http", "--log-level", "info", "--app-max-concurrency", "-1",
      "--placement-host-address", "localhost:50005", "--resources-path", join(scratch, "components"),
      "--max-body-size", "4Mi", "--read-buffer-size", "4Ki", "--scheduler-host-address", "localhost:50006",
      "--app-id", "myapp", "--app-port", "0", "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc),
      "--profile-port", "-1", "--metrics-port", String(metrics), "--dapr-internal-grpc-port", String(internal),
      "--data-dir", join(scratch, "data"), "--", ...envDumpingApp(envFile),
    ]);
    try {
      const env = await appEnv(envFile);
      expect(env).toMatchObject({
        APP_ID: "myapp", DAPR_HTTP_PORT: String(http), DAPR_GRPC_PORT: String(grpc), DAPR_METRICS_PORT: String(metrics),
        APP_PROTOCOL: "http", APP_CHANNEL_ADDRESS: "127.0.0.1",
      });
      expect(env.APP_PORT).toBeUndefined(); // dapr run sets it only for a port above 0
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/v1.0/healthz`)).status === 204, "healthz without an app port", 10_000);
      expect(await stopped(proc)).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });

  test("--unix-domain-socket: the app's DAPR_GRPC_ENDPOINT is the socket as a unix:// target (the Go and Python SDKs' form), with no TCP endpoint", async () => {
    const dir = join(scratch, "uds");
    const envFile = join(scratch, "uds-env.json");
    const proc = spawnRapr(["run", "--app-id", "uds-env", "-u", dir, "--metrics-port", "0", "--data-dir", join(scratch, "uds-data"), "--log-level", "warn", "--", ...envDumpingApp(envFile)]);
    try {
      const env = await appEnv(envFile);
      expect(env.DAPR_GRPC_ENDPOINT).toBe(`unix://${join(dir, "dapr-grpc-uds-env.socket")}`);
      expect(env.DAPR_HTTP_ENDPOINT).toBeUndefined();
      expect(await stopped(proc)).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});

describe("daprd flags of the current Kubernetes injector", () => {
  test("--app-binding-options-timeout, --actors-disseminate-timeout, --hot-reload-reconcile-interval are accepted (one warning); --disable-init-endpoints subscribe keeps rapr from asking the app", async () => {
    const asked: string[] = [];
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (asked.push(new URL(req.url).pathname), new Response("[]", { headers: { "content-type": "application/json" } })) });
    const [http, grpc] = [await freePort(), await freePort()];
    const proc = spawnRapr([
      "run", "--app-id", "injected", "--app-port", String(app.port), "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc), "--metrics-port", "0",
      "--app-binding-options-timeout", "3s", "--actors-disseminate-timeout", "10s", "--hot-reload-reconcile-interval", "1m30s",
      "--disable-init-endpoints", "subscribe", "--data-dir", join(scratch, "injected-data"), "--log-level", "info",
    ]);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/v1.0/healthz`)).status === 204, "rapr to become healthy", 20_000);
      // Declarative subscriptions and input bindings still start; only the app's subscribe endpoint is left alone.
      await Bun.sleep(500);
      expect(asked).not.toContain("/dapr/subscribe");
      expect(await stopped(proc)).toBe(0);
      const warnings = (await output(proc)).split("\n").filter((l) => l.includes("accepted for compatibility, not used"));
      expect(warnings).toHaveLength(1);
      for (const flag of ["--app-binding-options-timeout", "--actors-disseminate-timeout", "--hot-reload-reconcile-interval"]) expect(warnings[0]).toContain(flag);
      expect(warnings[0]).not.toContain("--disable-init-endpoints");
    } finally {
      proc.kill("SIGKILL");
      app.stop(true);
    }
  });

  test("without --disable-init-endpoints the app is asked for its subscriptions", async () => {
    const asked: string[] = [];
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (asked.push(new URL(req.url).pathname), new Response("[]", { headers: { "content-type": "application/json" } })) });
    const http = await freePort();
    const proc = spawnRapr(["run", "--app-id", "asked", "--app-port", String(app.port), "--dapr-http-port", String(http), "--dapr-grpc-port", String(await freePort()), "--metrics-port", "0", "--data-dir", join(scratch, "asked-data"), "--log-level", "warn"]);
    try {
      await waitFor(() => asked.includes("/dapr/subscribe"), "rapr to ask the app", 20_000);
      expect(await stopped(proc)).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      app.stop(true);
    }
  });

  const usage: [string[], number, RegExp][] = [
    [["run", "--disable-init-endpoints", "subscribe,bogus"], 2, /^rapr: invalid value "subscribe,bogus" for flag --disable-init-endpoints: expected config, subscribe/],
    [["run", "--actors-disseminate-timeout", "soon"], 2, /^rapr: invalid value "soon" for flag --actors-disseminate-timeout/],
    [["run", "--app-id", "x", "--version"], 0, /^rapr \S+ \(bun /],
    [["run", "--build-info"], 0, /^rapr \S+ \(bun /],
  ];
  test.each(usage)("rapr %p exits %p with one line", async (args, code, line) => {
    const r = await runRapr(args, { env: { HOME } });
    expect(r.code).toBe(code);
    const text = (code === 0 ? r.stdout : r.stderr).trimEnd();
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toMatch(line);
  });
});

describe("rapr run -f console and logs", () => {
  test("each app line is written as `== APP - <id> == <line>` to the console and the app's log, as the dapr CLI writes it; rapr stop -f leaves no process", async () => {
    const root = mkdtempSync(join(scratch, "template-"));
    mkdirSync(join(root, "talker"));
    writeFileSync(join(root, "talker", "app.js"), `require("fs").writeFileSync("pid", String(process.pid)); console.log("first line\\nsecond line"); console.error("to stderr"); process.stdout.write("no newline"); setInterval(() => {}, 1000);`);
    writeFileSync(join(root, "dapr.yaml"), ["version: 1", "apps:", "  - appID: talker", "    appDirPath: ./talker/", `    command: ["${BUN}", "app.js"]`, ""].join("\n"));
    const cli = spawnRapr(["run", "-f", root]);
    const console = output(cli);
    const appPid = Number(await waitFor(() => existsSync(join(root, "talker", "pid")) && readFileSync(join(root, "talker", "pid"), "utf8"), "the app to start", 30_000));
    const logDir = join(root, "talker", ".dapr", "logs");
    const appLog = () => readdirSync(logDir).find((l) => /^talker_app_\d{14}\.log$/.test(l));
    await waitFor(() => appLog() !== undefined && readFileSync(join(logDir, appLog()!), "utf8").includes("to stderr"), "the app's output in its log", 20_000);
    const stop = await runRapr(["stop", "-f", root], { env: { HOME }, timeoutMs: 30_000 });
    expect(stop.code).toBe(0);
    expect(await Promise.race([cli.exited, Bun.sleep(20_000).then(() => "still running")])).toBe(0);
    for (const pid of [cli.pid, appPid]) expect(isAlive(pid)).toBe(false);
    const lines = (await console).split("\n");
    const logged = readFileSync(join(logDir, appLog()!), "utf8").split("\n");
    for (const text of [lines, logged]) {
      for (const line of ["first line", "second line", "to stderr", "no newline"]) expect(text).toContain(`== APP - talker == ${line}`);
    }
  });
});

describe("the sidecar registry", () => {
  test("a record whose pid now belongs to another process is neither listed nor stopped; records of killed sidecars are swept when a sidecar starts", async () => {
    const dir = join(HOME, ".rapr", "run");
    mkdirSync(dir, { recursive: true });
    // This test process stands in for an unrelated process that got a dead sidecar's pid.
    const reused = join(dir, `reused.${process.pid}.json`);
    writeFileSync(reused, JSON.stringify({ appId: "reused", pid: process.pid, command: "", created: Date.now(), pidStart: "1" }));
    const list = await runRapr(["list", "-o", "json"], { env: { HOME } });
    expect(JSON.parse(list.stdout).map((r: { appId: string }) => r.appId)).not.toContain("reused");
    const stop = await runRapr(["stop", "--app-id", "reused"], { env: { HOME } });
    expect(stop.stdout).toContain("no sidecar of app id reused is running");
    expect(existsSync(reused)).toBe(false);

    const dead = join(dir, "killed.999999999.json");
    writeFileSync(dead, JSON.stringify({ appId: "killed", pid: 999_999_999, command: "", created: Date.now() }));
    const http = await freePort();
    const proc = spawnRapr(["run", "--app-id", "fresh", "--dapr-http-port", String(http), "--dapr-grpc-port", String(await freePort()), "--metrics-port", "0", "--data-dir", join(scratch, "fresh-data"), "--log-level", "warn"]);
    try {
      await waitFor(() => readdirSync(dir).some((n) => n.startsWith("fresh.")), "the new sidecar's record", 20_000);
      expect(existsSync(dead)).toBe(false);
      expect(await stopped(proc)).toBe(0);
      expect(readdirSync(dir).filter((n) => n.startsWith("fresh."))).toEqual([]); // removed at a normal exit
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
