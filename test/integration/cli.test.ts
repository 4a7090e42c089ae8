// The rapr command line: help, version, usage errors, launching the app, signals, and the binary standing alone.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { runRapr } from "../support/rapr-cli.js";
import { RAPR_BIN, startSidecar } from "../support/sidecar.js";
import { componentYaml } from "../support/components.js";

const scratch = mkdtempSync(join(tmpdir(), "rapr-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const lines = (text: string) => text.trimEnd().split("\n").filter((l) => l !== "");

describe("help, version and usage errors", () => {
  test("rapr --help and rapr run --help print usage with the run flags and exit 0", async () => {
    for (const args of [["--help"], ["help"], ["run", "--help"]]) {
      const r = await runRapr(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("rapr run");
      for (const flag of ["--app-id", "--app-port", "--dapr-http-port", "--dapr-grpc-port", "--resources-path", "--dapr-http-max-request-size", "--data-dir"]) {
        expect(r.stdout).toContain(flag);
      }
    }
  });

  test("rapr version prints the version and exits 0", async () => {
    const r = await runRapr(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rapr \d+\.\d+\.\d+/);
  });

  const usageErrors: [string[], RegExp][] = [
    [["run", "--no-such-flag"], /unknown flag --no-such-flag/],
    [["run", "--dapr-http-port", "abc"], /invalid value "abc" for flag --dapr-http-port/],
    [["run", "--dapr-http-port", "99999"], /--dapr-http-port: must be <= 65535/],
    [["run", "--log-level", "loud"], /--log-level: expected one of/],
    [["run", "--app-id", "bad id!"], /--app-id/],
    [["run", "--app-port"], /--app-port needs a value/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ];
  test.each(usageErrors)("rapr %p: exit 2 with one line on stderr", async (args, message) => {
    const r = await runRapr(args);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});

describe("rapr run -- <app>", () => {
  test("the app gets DAPR_HTTP_PORT, DAPR_GRPC_PORT and APP_ID, and rapr exits with the app's exit code", async () => {
    const out = join(scratch, "env.txt");
    const [http, grpc] = [await freePort(), await freePort()];
    const r = await runRapr([
      "run", "--app-id", "envapp", "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc), "--metrics-port", "0",
      "--data-dir", join(scratch, "data-env"), "--log-level", "error",
      "--", "sh", "-c", `echo "$DAPR_HTTP_PORT $DAPR_GRPC_PORT $APP_ID" > ${out}; exit 7`,
    ], { timeoutMs: 20_000 });
    expect(r.code).toBe(7);
    expect(readFileSync(out, "utf8").trim()).toBe(`${http} ${grpc} envapp`);
  });

  test("the app can call the sidecar it was started with", async () => {
    const out = join(scratch, "call.txt");
    const script = [
      `curl -s -o /dev/null -w '%{http_code} ' -X POST -d '[{"key":"k","value":"from-app"}]' http://127.0.0.1:$DAPR_HTTP_PORT/v1.0/state/statestore > ${out}`,
      `curl -s http://127.0.0.1:$DAPR_HTTP_PORT/v1.0/state/statestore/k >> ${out}`,
    ].join("; ");
    const r = await runRapr([
      "run", "--app-id", "callapp", "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--metrics-port", "0",
      "--data-dir", join(scratch, "data-call"), "--log-level", "error", "--", "sh", "-c", script,
    ], { timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe('204 "from-app"');
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} to rapr stops the app (which gets SIGTERM) and then rapr`, async () => {
      const dir = join(scratch, `sig-${signal}`);
      mkdirSync(dir, { recursive: true });
      const script = `trap 'echo term > ${dir}/app-got; exit 0' TERM; echo $$ > ${dir}/app-pid; while true; do sleep 0.05; done`;
      const sidecar = await startSidecar({ appCommand: ["sh", "-c", script] });
      const appPid = Number(await waitFor(() => existsSync(`${dir}/app-pid`) && readFileSync(`${dir}/app-pid`, "utf8").trim(), "the app to start"));
      expect(appPid).toBeGreaterThan(0);
      sidecar.proc.kill(signal);
      const code = await sidecar.proc.exited;
      expect(code).toBe(0);
      expect(readFileSync(`${dir}/app-got`, "utf8").trim()).toBe("term");
      expect(isAlive(appPid)).toBe(false);
      await sidecar.stop();
    });
  }

  test("a second signal while rapr waits for a stubborn app exits at once (code 1), killing the app", async () => {
    const dir = join(scratch, "stubborn");
    mkdirSync(dir, { recursive: true });
    // The app notes SIGTERM and carries on, so the first signal leaves rapr waiting out its 30 s grace.
    const script = `trap 'echo term > ${dir}/app-got' TERM; echo $$ > ${dir}/app-pid; while true; do sleep 0.05; done`;
    const sidecar = await startSidecar({ appCommand: ["sh", "-c", script], args: ["--dapr-graceful-shutdown-seconds", "30", "--log-level", "info"] });
    const appPid = Number(await waitFor(() => existsSync(`${dir}/app-pid`) && readFileSync(`${dir}/app-pid`, "utf8").trim(), "the app to start"));
    try {
      sidecar.proc.kill("SIGTERM");
      await waitFor(() => existsSync(`${dir}/app-got`), "rapr to pass SIGTERM on to the app");
      sidecar.proc.kill("SIGTERM");
      const code = await Promise.race([sidecar.proc.exited, Bun.sleep(10_000).then(() => "still running")]);
      expect(code).toBe(1);
      expect(await sidecar.output()).toContain("second signal while stopping");
      await waitFor(() => !isAlive(appPid), "the app to be killed with rapr");
    } finally {
      sidecar.proc.kill("SIGKILL");
      if (isAlive(appPid)) process.kill(appPid, "SIGKILL");
    }
  }, 30_000);

  test("SIGTERM while components still load: start-up stops there, and rapr exits 0 without ever listening", async () => {
    // A "PostgreSQL" that accepts connections and never answers holds the state store's init for its 5 s timeout.
    let connected = false;
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void (connected = true), data() {} } });
    const res = join(scratch, "slow-init");
    mkdirSync(res, { recursive: true });
    writeFileSync(join(res, "pg.yaml"), componentYaml("slow", "state.postgresql", { connectionString: `postgres://postgres@127.0.0.1:${silent.port}/test`, timeout: "30s" }, { extra: "  initTimeout: 20s" }));
    const sidecar = await startSidecar({ args: ["--resources-path", res, "--log-level", "info"], waitReady: false });
    try {
      await waitFor(() => connected, "the state store's init to connect");
      sidecar.proc.kill("SIGTERM");
      const code = await Promise.race([sidecar.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
      expect(code).toBe(0);
      const log = await sidecar.output();
      expect(log).toContain("shutting down");
      expect(log).not.toContain("rapr is ready");
      await expect(fetch(`http://127.0.0.1:${sidecar.httpPort}/v1.0/healthz`)).rejects.toThrow();
    } finally {
      sidecar.proc.kill("SIGKILL");
      silent.stop(true);
    }
  }, 30_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a copy of dist/rapr alone in an empty dir, with no bun on PATH, serves state from the embedded sqlite default", async () => {
  const alone = join(scratch, "alone");
  mkdirSync(alone);
  const bin = join(alone, "rapr");
  copyFileSync(RAPR_BIN, bin);
  const dataDir = join(scratch, "alone-data");
  // The usual system dirs, but any that holds a bun of its own (a system-wide install).
  const PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].filter((dir) => !existsSync(join(dir, "bun"))).join(":");
  expect(Bun.which("bun", { PATH })).toBeNull();
  const sidecar = await startSidecar({ bin, cwd: alone, dataDir, replaceEnv: true, env: { PATH, HOME: join(scratch, "alone-home") } });
  try {
    expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
    const save = await sidecar.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "k", value: { standalone: true } }]) });
    expect(save.status).toBe(204);
    expect(await (await sidecar.http("/v1.0/state/statestore/k")).json()).toEqual({ standalone: true });
    expect(readdirSync(dataDir)).toContain("state.sqlite");
    expect(readdirSync(alone)).toEqual(["rapr"]);
  } finally {
    expect(await sidecar.stop()).toBe(0);
  }
});
