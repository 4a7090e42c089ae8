// The state block runs store calls under the store's Resiliency policy (targets.components.<name>).
import { describe, expect, test } from "bun:test";
import { StateBlock } from "../../src/blocks/state/state-block.js";
import { EtagMismatchError } from "../../src/errors.js";
import { parseResiliency, Resiliency } from "../../src/resiliency/index.js";

function fakeStore(failFirst: number) {
  let calls = 0;
  const store = {
    calls: () => calls,
    features: () => ["ETAG"],
    async get(key: string) {
      if (++calls <= failFirst) throw new Error(`backend down (${calls})`);
      return { key, value: new TextEncoder().encode('"v"'), etag: "1" };
    },
    async bulkGet() {
      return [];
    },
    async set(req: { key: string }) {
      calls++;
      throw new EtagMismatchError(req.key);
    },
    async delete() {},
    async transact() {},
    async close() {},
  };
  return store;
}

function blockWith(store: ReturnType<typeof fakeStore>, targets: object) {
  const spec = { name: "store", type: "state.fake", version: "v1", metadata: [], ignoreErrors: false, scopes: [], source: "test" };
  const registry = { get: () => store, list: () => [{ spec }] } as never;
  return new StateBlock(registry, "app", new Resiliency([parseResiliency("r", { spec: { policies: { retries: { quick: { duration: "1ms", maxRetries: 3 } } }, targets: { components: targets } } }, "test")]));
}

describe("state store calls under resiliency", () => {
  test("a failing get is retried under the store's policy until it succeeds", async () => {
    const store = fakeStore(2);
    const block = blockWith(store, { store: { outbound: { retry: "quick" } } });
    const item = await block.get("store", "k");
    expect(new TextDecoder().decode(item!.value)).toBe('"v"');
    expect(store.calls()).toBe(3);
  });

  test("an etag conflict is final, not retried", async () => {
    const store = fakeStore(0);
    const block = blockWith(store, { store: { retry: "quick" } });
    await expect(block.save("store", [{ key: "k", value: new Uint8Array([1]), etag: "9" }])).rejects.toMatchObject({ httpStatus: 409 });
    expect(store.calls()).toBe(1);
  });

  test("a store without a policy is called once", async () => {
    const store = fakeStore(1);
    const block = blockWith(store, { other: { retry: "quick" } });
    await expect(block.get("store", "k")).rejects.toThrow("backend down");
    expect(store.calls()).toBe(1);
  });
});
