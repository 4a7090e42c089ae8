// A block added through one manifest alone: its flag is parsed and listed in --help, its module starts with the
// typed options, its HTTP endpoint is served, counted in the metrics and filtered by spec.api like any other.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinPlugins } from "../../plugins/index.js";
import { json } from "../../src/api/http/respond.js";
import { builtinBlocks } from "../../src/blocks/index.js";
import { formatHelp, parseFlags } from "../../src/cli/flags.js";
import { allRunFlags, toRuntimeConfig } from "../../src/cli/run-flags.js";
import { silentLogger } from "../../src/observability/logger.js";
import { defineBlock, Slot } from "../../src/runtime/block.js";
import { Runtime } from "../../src/runtime/runtime.js";
import { freePort } from "../support/ports.js";

const greetingSlot = new Slot<{ greeting: string }>("greeter");
const greeter = defineBlock<{ greeting: string }>({
  name: "greeter",
  flags: [{ name: "greeter-greeting", type: "string", help: "what the greeter says", default: "hello" }],
  parseOptions: (values) => ({ greeting: values["greeter-greeting"] as string }),
  http: (api) => [
    {
      name: "Greet",
      methods: ["GET"],
      route: "/greet/:name",
      version: "v1.0-alpha1",
      group: "greeter",
      handler: ({ params }) => json({ message: `${api.blocks.get(greetingSlot)?.greeting}, ${params.name}` }),
    },
  ],
  create: (host, options) => ({
    async start() {
      host.provide(greetingSlot, options);
      host.metadata.contribute((snap) => (snap.extended["greeter.greeting"] = options.greeting));
    },
  }),
});
const blocks = [...builtinBlocks, greeter];

async function startRuntime(dir: string, extraArgs: string[] = []) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const args = ["--app-id", "greeter-test", "--data-dir", dir, "--enable-mtls=false", "--dapr-http-port", String(http), "--dapr-grpc-port", String(grpc), "--metrics-port", String(metrics), "--greeter-greeting", "hi", ...extraArgs];
  const config = toRuntimeConfig(blocks, parseFlags(allRunFlags(blocks), args).values, [], {});
  const runtime = new Runtime(config, silentLogger, { blocks, plugins: builtinPlugins });
  await runtime.start();
  return { runtime, http: `http://127.0.0.1:${runtime.httpPort}`, metrics: `http://127.0.0.1:${metrics}/metrics` };
}

describe("a throwaway block through one manifest", () => {
  let dir: string;
  let sidecar: Awaited<ReturnType<typeof startRuntime>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rapr-greeter-"));
    sidecar = await startRuntime(dir);
  }, 30_000);

  afterAll(async () => {
    await sidecar?.runtime.stop("test done");
    rmSync(dir, { recursive: true, force: true });
  });

  test("its flag is a rapr run flag, in --help, parsed into its typed options", () => {
    expect(formatHelp(allRunFlags(blocks))).toContain("--greeter-greeting");
    expect(toRuntimeConfig(blocks, parseFlags(allRunFlags(blocks), []).values, [], {}).blockOptions.greeter).toEqual({ greeting: "hello" });
  });

  test("its endpoint is served with the module's options, and its metadata contributed", async () => {
    const res = await fetch(`${sidecar.http}/v1.0-alpha1/greet/bob`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: "hi, bob" });
    const metadata = (await (await fetch(`${sidecar.http}/v1.0/metadata`)).json()) as { extended: Record<string, string> };
    expect(metadata.extended["greeter.greeting"]).toBe("hi");
  });

  test("its calls are counted in the metrics", async () => {
    await fetch(`${sidecar.http}/v1.0-alpha1/greet/ann`);
    const text = await (await fetch(sidecar.metrics)).text();
    expect(text).toContain('method="GET",path="/v1.0-alpha1/greet/ann",status="200"');
  });

  test("spec.api filters it like a built-in block", async () => {
    const other = mkdtempSync(join(tmpdir(), "rapr-greeter-denied-"));
    const config = join(other, "config.yaml");
    writeFileSync(config, "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec:\n  api:\n    denied:\n      - name: greeter\n        version: v1.0-alpha1\n        protocol: http\n");
    const denied = await startRuntime(other, ["--config", config]);
    try {
      expect((await fetch(`${denied.http}/v1.0-alpha1/greet/bob`)).status).toBe(404);
      expect((await fetch(`${denied.http}/v1.0/metadata`)).status).toBe(200);
    } finally {
      await denied.runtime.stop("test done");
      rmSync(other, { recursive: true, force: true });
    }
  }, 30_000);
});
