// The example third-party plugin (docs/examples/plugin-state-memo) loaded by the compiled rapr with --plugins-path and
// driven by the official Dapr JS SDK over HTTP and gRPC: its etag conflicts and transactions reach the caller as
// Dapr's, and the features it does not declare are refused by the state block.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum, type DaprClient } from "@dapr/dapr";
import { componentYaml } from "../support/components.js";
import { sdkClient, failureOf } from "../support/dapr-sdk.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

const EXAMPLE_PLUGINS = join(import.meta.dir, "..", "..", "docs", "examples", "plugin-state-memo", "plugins");
const STORE = "memo";

describe("the example --plugins-path state store in the compiled rapr", () => {
  const resources = mkdtempSync(join(tmpdir(), "rapr-plugin-example-"));
  let sidecar: Sidecar;

  beforeAll(async () => {
    writeFileSync(join(resources, "memo.yaml"), componentYaml(STORE, "state.memo", { maxValueBytes: "1000" }));
    sidecar = await startSidecar({ args: ["--resources-path", resources, "--plugins-path", EXAMPLE_PLUGINS] });
  });
  afterAll(async () => {
    await sidecar?.stop();
    rmSync(resources, { recursive: true, force: true });
  });

  test("the metadata API lists it with the features it declares", async () => {
    const meta = (await (await sidecar.http("/v1.0/metadata")).json()) as { components: { name: string; type: string; capabilities?: string[] }[] };
    const memo = meta.components.find((c) => c.name === STORE);
    expect(memo?.type).toBe("state.memo");
    expect(memo?.capabilities).toEqual(expect.arrayContaining(["ETAG", "TRANSACTIONAL"]));
  });

  test("a stale etag is Dapr's 409 ERR_STATE_SAVE, though the plugin's error class is its own", async () => {
    await sidecar.http(`/v1.0/state/${STORE}`, { method: "POST", body: JSON.stringify([{ key: "raw", value: 1 }]) });
    const res = await sidecar.http(`/v1.0/state/${STORE}`, { method: "POST", body: JSON.stringify([{ key: "raw", value: 2, etag: "999999" }]) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_STATE_SAVE");
  });

  test("the query API is refused: the plugin does not declare QUERY_API", async () => {
    const res = await sidecar.http(`/v1.0-alpha1/state/${STORE}/query`, { method: "POST", body: JSON.stringify({ filter: {} }) });
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_STATE_STORE_NOT_SUPPORTED");
  });

  describe.each([["HTTP", CommunicationProtocolEnum.HTTP], ["gRPC", CommunicationProtocolEnum.GRPC]] as const)("over %s", (protoName, protocol) => {
    let client: DaprClient;
    const k = (name: string) => `${protoName}-${name}`;

    beforeAll(() => {
      client = sdkClient(sidecar, protocol);
    });
    afterAll(async () => {
      await client?.stop();
    });

    test("save, get, getBulk and delete", async () => {
      await client.state.save(STORE, [{ key: k("a"), value: { n: 1 } }, { key: k("b"), value: "two" }]);
      expect(await client.state.get(STORE, k("a"))).toEqual({ n: 1 });
      const bulk = (await client.state.getBulk(STORE, [k("b"), k("none")])) as { key: string; data?: unknown; etag?: string }[];
      expect(bulk[0]).toEqual(expect.objectContaining({ key: k("b"), data: "two" }));
      expect(bulk[0].etag).toBeTruthy();
      expect(bulk[1].data ?? "").toBe("");
      await client.state.delete(STORE, k("a"));
      expect(await client.state.get(STORE, k("a"))).toBe("");
    });

    test("etags: the fresh one lands, a stale one fails and changes nothing", async () => {
      const key = k("etag");
      await client.state.save(STORE, [{ key, value: "v1" }]);
      const [first] = (await client.state.getBulk(STORE, [key])) as { etag: string }[];
      expect(await failureOf(() => client.state.save(STORE, [{ key, value: "v2", etag: first.etag }]))).toBeUndefined();
      expect(await failureOf(() => client.state.save(STORE, [{ key, value: "v3", etag: first.etag }]))).toMatch(/etag|409|Aborted/i);
      expect(await client.state.get(STORE, key)).toBe("v2");
    });

    test("a transaction applies together; one with a stale etag applies nothing", async () => {
      await client.state.save(STORE, [{ key: k("t-keep"), value: "kept" }]);
      await client.state.transaction(STORE, [
        { operation: "upsert", request: { key: k("t-a"), value: "A" } },
        { operation: "delete", request: { key: k("t-keep") } },
      ]);
      expect(await client.state.get(STORE, k("t-a"))).toBe("A");
      expect(await client.state.get(STORE, k("t-keep"))).toBe("");
      const failed = await failureOf(() => client.state.transaction(STORE, [
        { operation: "upsert", request: { key: k("t-a"), value: "A2" } },
        // The SDK types etag as {value}, but both of its clients send whatever is given as the etag string.
        { operation: "upsert", request: { key: k("t-b"), value: "B", etag: "stale" as never } },
      ]));
      expect(failed).toBeDefined();
      expect(await client.state.get(STORE, k("t-a"))).toBe("A");
      expect(await client.state.get(STORE, k("t-b"))).toBe("");
    });
  });
});
