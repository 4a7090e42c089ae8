// Component YAML and plugins: start-up failures that name the file, the component and the field; ignoreErrors,
// many documents per file, scopes, --plugins-path; plus in-process unit tests of the loader and the flag parser.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags, UsageError, type FlagSpec } from "../../src/cli/flags.js";
import { allRunFlags, toRuntimeConfig } from "../../src/cli/run-flags.js";
import { builtinBlocks } from "../../src/blocks/index.js";
import { loadResourcePaths, parseResourceFile, ResourceError } from "../../src/components/loader.js";
import { definePlugin } from "../../src/components/plugin.js";
import { ComponentRegistry } from "../../src/components/registry.js";
import { silentLogger } from "../../src/observability/logger.js";
import { waitFor } from "../support/ports.js";
import { runRapr } from "../support/rapr-cli.js";
import { startSidecar } from "../support/sidecar.js";
import { componentYaml } from "../support/components.js";

const scratch = mkdtempSync(join(tmpdir(), "rapr-components-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface MetadataBody { components: { name: string; type: string }[] }
interface DaprErrorBody { errorCode: string; message: string }

let dirCount = 0;
/** A fresh resources dir holding the given files. */
function resources(files: Record<string, string>): string {
  const dir = join(scratch, `res${++dirCount}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Starts rapr on the given resources dir and expects it to fail; returns its stderr. */
async function expectStartFailure(dir: string): Promise<string> {
  const r = await runRapr([
    "run", "--app-id", "comptest", "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--metrics-port", "0",
    "--data-dir", join(scratch, "data"), "--resources-path", dir, "--log-level", "error",
  ]);
  expect(r.code).not.toBeNull();
  expect(r.code).not.toBe(0);
  return r.stderr;
}

describe("start-up failures name the file, the component and the field, and rapr exits non-zero", () => {
  test("invalid YAML", async () => {
    const dir = resources({ "broken.yaml": "kind: Component\nmetadata: {name: s\n  spec: [" });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(join(dir, "broken.yaml"));
    expect(stderr).toMatch(/invalid YAML/);
  });

  test("missing spec.type", async () => {
    const dir = resources({ "notype.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: typeless\nspec:\n  version: v1\n" });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(join(dir, "notype.yaml"));
    expect(stderr).toContain('component "typeless"');
    expect(stderr).toContain('"spec.type"');
  });

  test("unknown component type", async () => {
    const dir = resources({ "unknown.yaml": componentYaml("mystery", "state.nosuchdb") });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(join(dir, "unknown.yaml"));
    expect(stderr).toContain('component "mystery"');
    expect(stderr).toContain('unknown component type "state.nosuchdb"');
    expect(stderr).toContain("state.sqlite"); // it lists the types it knows
  });

  test("a metadata value of the wrong type (state.sqlite busyTimeout: abc)", async () => {
    const dir = resources({ "badmeta.yaml": componentYaml("slow", "state.sqlite", { busyTimeout: "abc" }) });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(join(dir, "badmeta.yaml"));
    expect(stderr).toContain('component "slow"');
    expect(stderr).toContain('metadata field "busyTimeout"');
    expect(stderr).toContain('got "abc"');
  });

  test("a required metadata field that is missing (state.postgresql without connectionString)", async () => {
    const dir = resources({ "pg.yaml": componentYaml("pg", "state.postgresql") });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain('component "pg"');
    expect(stderr).toContain('metadata field "connectionString" is required');
  });

  test("two components of one family with the same name, in different files", async () => {
    const dir = resources({
      "a.yaml": componentYaml("twin", "state.in-memory"),
      "b.yaml": componentYaml("twin", "state.sqlite", { connectionString: ":memory:" }),
    });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(join(dir, "b.yaml"));
    expect(stderr).toContain('component "twin"');
    expect(stderr).toContain(`already loaded from ${join(dir, "a.yaml")}`);
  });

  test("the second document of a multi-document file is named by its position", async () => {
    const dir = resources({ "multi.yaml": `${componentYaml("fine", "state.in-memory")}---\n${componentYaml("broken", "state.sqlite", { disableWAL: "perhaps" })}` });
    const stderr = await expectStartFailure(dir);
    expect(stderr).toContain(`${join(dir, "multi.yaml")}#2`);
    expect(stderr).toContain('component "broken"');
    expect(stderr).toContain('metadata field "disableWAL"');
  });

  test("a resources path that does not exist", async () => {
    const stderr = await expectStartFailure(join(scratch, "no-such-dir"));
    expect(stderr).toContain(join(scratch, "no-such-dir"));
    expect(stderr).toContain("does not exist");
  });
});

describe("component loading on a running sidecar", () => {
  test("spec.ignoreErrors lets rapr start without the broken component; many documents per file; scopes", async () => {
    const dir = resources({
      "stores.yaml": [
        componentYaml("store-a", "state.in-memory"),
        componentYaml("store-b", "state.sqlite", { connectionString: "b.db" }),
        componentYaml("broken", "state.sqlite", { busyTimeout: "abc" }, { extra: "  ignoreErrors: true" }),
        componentYaml("unknown-ignored", "state.nosuchdb", {}, { extra: "  ignoreErrors: true" }),
        componentYaml("mine", "state.in-memory", {}, { scopes: ["scoped-app", "other"] }),
        componentYaml("not-mine", "state.in-memory", {}, { scopes: ["someone-else"] }),
      ].join("---\n"),
    });
    const sidecar = await startSidecar({ appId: "scoped-app", args: ["--resources-path", dir] });
    try {
      const meta = (await (await sidecar.http("/v1.0/metadata")).json()) as MetadataBody;
      const names = (meta.components as { name: string }[]).map((c) => c.name).sort();
      expect(names).toContain("store-a");
      expect(names).toContain("store-b");
      expect(names).toContain("mine");
      expect(names).not.toContain("broken");
      expect(names).not.toContain("unknown-ignored");
      expect(names).not.toContain("not-mine");
      for (const store of ["store-a", "store-b", "mine"]) {
        const save = await sidecar.http(`/v1.0/state/${store}`, { method: "POST", body: JSON.stringify([{ key: "k", value: store }]) });
        expect(save.status).toBe(204);
        expect(await (await sidecar.http(`/v1.0/state/${store}/k`)).json()).toBe(store);
      }
      const skipped = await sidecar.http("/v1.0/state/not-mine/k");
      expect(skipped.status).toBe(404);
      expect(((await skipped.json()) as DaprErrorBody).errorCode).toBe("ERR_STATE_STORE_NOT_FOUND");
    } finally {
      await sidecar.stop();
    }
  });

  test("--plugins-path loads a third-party state store from a JS module, usable through the HTTP API", async () => {
    const plugins = join(scratch, "plugins");
    mkdirSync(plugins, { recursive: true });
    writeFileSync(join(plugins, "custom-store.js"), CUSTOM_PLUGIN);
    const dir = resources({ "custom.yaml": componentYaml("custom", "state.custom", { greeting: "hello from yaml" }) });
    const sidecar = await startSidecar({ args: ["--resources-path", dir, "--plugins-path", plugins] });
    try {
      const meta = (await (await sidecar.http("/v1.0/metadata")).json()) as MetadataBody;
      expect(meta.components).toContainEqual(expect.objectContaining({ name: "custom", type: "state.custom" }));
      const save = await sidecar.http("/v1.0/state/custom", { method: "POST", body: JSON.stringify([{ key: "k1", value: { a: 1 } }, { key: "k2", value: "two" }]) });
      expect(save.status).toBe(204);
      const got = await sidecar.http("/v1.0/state/custom/k1");
      expect(got.status).toBe(200);
      expect(got.headers.get("etag")).toBe("custom-1");
      expect(await got.json()).toEqual({ a: 1 });
      const bulk = await (await sidecar.http("/v1.0/state/custom/bulk", { method: "POST", body: JSON.stringify({ keys: ["k2", "zz"] }) })).json();
      expect(bulk).toEqual([{ key: "k2", data: "two", etag: "custom-2", metadata: {} }, { key: "zz" }]);
      // The plugin saw its typed metadata and the app id: it answers a reserved key with them.
      expect(await (await sidecar.http("/v1.0/state/custom/whoami")).json()).toEqual({ greeting: "hello from yaml", appId: sidecar.appId });
      expect((await sidecar.http("/v1.0/state/custom/k1", { method: "DELETE" })).status).toBe(204);
      expect((await sidecar.http("/v1.0/state/custom/k1")).status).toBe(204);
      // It declared no TRANSACTIONAL feature: the block says so instead of calling it.
      const tx = await sidecar.http("/v1.0/state/custom/transaction", { method: "POST", body: JSON.stringify({ operations: [] }) });
      expect(((await tx.json()) as DaprErrorBody).errorCode).toBe("ERR_STATE_STORE_NOT_SUPPORTED");
    } finally {
      await sidecar.stop();
    }
  });

  test("a plugins path with a module that is not a plugin fails start-up naming the file", async () => {
    const plugins = join(scratch, "bad-plugins");
    mkdirSync(plugins, { recursive: true });
    writeFileSync(join(plugins, "nope.js"), "export default { type: 'NotAType', create: 1 };\n");
    const r = await runRapr(["run", "--app-id", "x", "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--metrics-port", "0", "--data-dir", join(scratch, "data"), "--plugins-path", plugins]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain(join(plugins, "nope.js"));
    expect(r.stderr).toContain('"type"');
  });
});

const CUSTOM_PLUGIN = `
// A third-party state store: a plain JS module, no imports from rapr.
export default {
  type: "state.custom",
  metadata: { greeting: { type: "string", default: "hi" } },
  async create(meta, ctx) {
    const items = new Map();
    let version = 0;
    return {
      features: () => ["ETAG"],
      async get(key) {
        if (key.endsWith("||whoami")) {
          return { key, etag: "x", value: new TextEncoder().encode(JSON.stringify({ greeting: meta.greeting, appId: ctx.appId })) };
        }
        return items.get(key);
      },
      async bulkGet(keys) { return keys.map((k) => items.get(k)); },
      async set(req) { items.set(req.key, { key: req.key, value: req.value, etag: "custom-" + ++version }); },
      async delete(req) { items.delete(req.key); },
      async transact() { throw new Error("not supported"); },
      async close() { items.clear(); },
    };
  },
};
`;

describe("loader (in-process)", () => {
  test("parses many documents, metadata values of any YAML type, secretKeyRef, scopes, ignoreErrors and other kinds", () => {
    const text = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: one
  namespace: prod
spec:
  type: state.postgresql
  version: v2
  initTimeout: 1m30s
  ignoreErrors: true
  metadata:
  - name: port
    value: 5432
  - name: enabled
    value: true
  - name: nested
    value: {a: 1}
  - name: empty
  - name: password
    secretKeyRef:
      name: pg-secret
      key: pw
auth:
  secretStore: vault
scopes: [app1, app2]
---
# an empty document is skipped
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: sub1
spec: {topic: orders}
`;
    const r = parseResourceFile(text, "/x/res.yaml");
    expect(r.components.length).toBe(1);
    const c = r.components[0];
    expect(c).toMatchObject({
      name: "one", namespace: "prod", type: "state.postgresql", version: "v2", ignoreErrors: true,
      initTimeoutMs: 90_000, secretStore: "vault", scopes: ["app1", "app2"], source: "/x/res.yaml#1",
    });
    expect(c.metadata).toEqual([
      { name: "port", value: "5432" },
      { name: "enabled", value: "true" },
      { name: "nested", value: '{"a":1}' },
      { name: "empty", value: "" },
      { name: "password", secretKeyRef: { name: "pg-secret", key: "pw" } },
    ]);
    expect(r.others).toEqual([expect.objectContaining({ kind: "Subscription", name: "sub1", source: "/x/res.yaml#3" })]);
  });

  const failures: [string, string, RegExp][] = [
    ["not a mapping", "- a\n- b\n", /a resource must be a YAML mapping/],
    ["no kind", "metadata: {name: a}\n", /field "kind" is required/],
    ["bad name", "kind: Component\nmetadata: {name: 'has space'}\nspec: {type: state.x}\n", /"metadata.name"/],
    ["no spec", "kind: Component\nmetadata: {name: a}\n", /component "a": field "spec" is required/],
    ["bad apiVersion", "apiVersion: v9\nkind: Component\nmetadata: {name: a}\nspec: {type: state.x}\n", /component "a": field "apiVersion"/],
    ["bad version", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, version: 1.0}\n", /component "a": field "spec.version"/],
    ["metadata not a list", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, metadata: {a: b}}\n", /component "a": field "spec.metadata" must be a list/],
    ["metadata item without name", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, metadata: [{value: b}]}\n", /component "a": spec.metadata\[0\]: field "name" is required/],
    ["secretKeyRef without name", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, metadata: [{name: p, secretKeyRef: {key: k}}]}\n", /metadata field "p": "secretKeyRef.name" is required/],
    ["ignoreErrors not a boolean", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, ignoreErrors: maybe}\n", /component "a": field "spec.ignoreErrors"/],
    ["bad initTimeout", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x, initTimeout: soon}\n", /component "a": field "spec.initTimeout"/],
    ["scopes not strings", "kind: Component\nmetadata: {name: a}\nspec: {type: state.x}\nscopes: [1, {a: b}]\n", /scopes must be a list of strings/],
  ];
  test.each(failures)("rejects %s, naming the file", (_what, text, message) => {
    let err: unknown;
    try {
      parseResourceFile(text, "/r/file.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as ResourceError).message).toStartWith("/r/file.yaml");
    expect((err as ResourceError).message).toMatch(message);
  });

  test("loadResourcePaths reads every .yaml/.yml file of each path in name order, and ignores other files", () => {
    const a = resources({ "b.yml": componentYaml("second", "state.in-memory"), "a.yaml": componentYaml("first", "state.in-memory"), "notes.txt": "not yaml" });
    const b = resources({ "c.YAML": componentYaml("third", "state.in-memory") });
    const loaded = loadResourcePaths([a, b]);
    expect(loaded.components.map((c) => c.name)).toEqual(["first", "second", "third"]);
    expect(loaded.components[0].source).toBe(join(a, "a.yaml"));
    expect(() => loadResourcePaths([join(scratch, "missing")])).toThrow(/resources path does not exist/);
  });

  test("closing the components gives up on one whose close() never ends, and closes the others", async () => {
    let closed = false;
    const registry = new ComponentRegistry({ appId: "app", dataDir: scratch, logger: silentLogger });
    registry.registerPlugin(definePlugin({ type: "state.stuck", metadata: {}, create: async () => ({ close: () => new Promise<void>(() => {}) }) }));
    registry.registerPlugin(definePlugin({ type: "state.fine", metadata: {}, create: async () => ({ close: async () => void (closed = true) }) }));
    const spec = (name: string, type: string) => ({ name, type, version: "v1", metadata: [], ignoreErrors: false, scopes: [], source: "test.yaml" });
    await registry.loadAll([spec("stuck", "state.stuck"), spec("fine", "state.fine")]);
    await registry.closeAll(50); // resolves although "stuck" never closes
    expect(closed).toBe(true);
    expect(registry.list()).toEqual([]);
  });

  test("a component whose init finishes after spec.initTimeout is refused, and closed once it arrives", async () => {
    let closed = false;
    let finishInit!: () => void;
    const registry = new ComponentRegistry({ appId: "app", dataDir: scratch, logger: silentLogger });
    registry.registerPlugin(definePlugin({
      type: "state.slow",
      metadata: {},
      create: () => new Promise((resolve) => (finishInit = () => resolve({ close: async () => void (closed = true) }))),
    }));
    const spec = { name: "slow", type: "state.slow", version: "v1", metadata: [], ignoreErrors: false, initTimeoutMs: 20, scopes: [], source: "test.yaml" };
    await expect(registry.load(spec)).rejects.toThrow(/component "slow" \(state.slow\/v1\): init did not finish within 20ms/);
    expect(registry.list()).toEqual([]);
    finishInit();
    await waitFor(() => closed, "the late instance to be closed", 2_000);
  });
});

describe("flags (in-process)", () => {
  const specs: FlagSpec[] = [
    { name: "port", type: "int", help: "", default: 1, min: 0, max: 65535, aliases: ["p"] },
    { name: "mode", type: "string", help: "", default: "a", oneOf: ["a", "b"] },
    { name: "verbose", type: "bool", help: "", default: false },
    { name: "path", type: "list", help: "", default: ["default"] },
    { name: "origins", type: "csv", help: "", default: ["*"] },
  ];

  test("parses --flag value, --flag=value, aliases, bools, repeatable lists, csv, and stops at --", () => {
    const { values, rest } = parseFlags(specs, ["-p", "8080", "--mode=b", "--verbose", "--path", "x", "--path=y", "--origins", "a, b,", "--", "app", "--port", "9"]);
    expect(values).toEqual({ port: 8080, mode: "b", verbose: true, path: ["x", "y"], origins: ["a", "b"] });
    expect(rest).toEqual(["app", "--port", "9"]);
    expect(parseFlags(specs, ["--verbose", "false"]).values.verbose).toBe(false);
    expect(parseFlags(specs, []).values).toEqual({ port: 1, mode: "a", verbose: false, path: ["default"], origins: ["*"] });
    expect(parseFlags(specs, ["app", "--x"]).rest).toEqual(["app", "--x"]);
  });

  const bad: [string[], RegExp][] = [
    [["--nope"], /unknown flag --nope/],
    [["--port", "abc"], /invalid value "abc" for flag --port: expected an integer/],
    [["--port", "70000"], /must be <= 65535/],
    [["--port", "-1"], /must be >= 0/],
    [["--port"], /flag --port needs a value/],
    [["--mode", "c"], /invalid value "c" for flag --mode: expected one of a, b/],
    [["--verbose=maybe"], /expected true or false/],
    [["--path="], /must not be empty/],
  ];
  test.each(bad)("%p is a one-line UsageError", (argv, message) => {
    let err: unknown;
    try {
      parseFlags(specs, argv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain("\n");
  });

  test("rapr run flags become a RuntimeConfig; a bad app id is a UsageError", () => {
    const { values, rest } = parseFlags(allRunFlags(builtinBlocks), ["--app-id", "orders", "--dapr-http-port", "3600", "--dapr-http-max-request-size", "2", "--resources-path", "./res", "--", "bun", "app.ts"]);
    const config = toRuntimeConfig(builtinBlocks, values, rest, { DAPR_API_TOKEN: "tok" });
    expect(config).toMatchObject({ appId: "orders", httpPort: 3600, grpcPort: 50001, maxRequestBodyBytes: 2 * 1024 * 1024, apiToken: "tok", appCommand: ["bun", "app.ts"] });
    expect(config.resourcesPaths[0]).toEndWith("/res");
    expect(() => toRuntimeConfig(builtinBlocks, parseFlags(allRunFlags(builtinBlocks), ["--app-id", "bad id"]).values, [], {})).toThrow(UsageError);
    expect(() => toRuntimeConfig(builtinBlocks, parseFlags(allRunFlags(builtinBlocks), ["--app-id", "a||b"]).values, [], {})).toThrow(UsageError);
  });
});
