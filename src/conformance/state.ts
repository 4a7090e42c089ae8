// The StateStore conformance suite: every state plugin, built-in or loaded with --plugins-path, runs it. Cases for a
// feature run only when the store declares it; for each feature it does not declare, a case checks it really lacks it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Query, StateFeature, StateItem, StateStore } from "../components/contracts/state.js";
import { EtagMismatchError } from "../errors.js";
import { disposeOf, eventually, featureCases, forFeature, probeFeatures, type Subject, type SubjectFactory, type SuiteOptions } from "./harness.js";

export const STATE_FEATURES: readonly StateFeature[] = ["ETAG", "TRANSACTIONAL", "QUERY_API", "TTL"];

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const json = (v: unknown) => enc.encode(JSON.stringify(v));
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) => !!a && Buffer.from(a).equals(Buffer.from(b));

/**
 * Registers the suite for one state store: `factory` makes a fresh store (called once to read its features, once for
 * the cases). Await it at the top level of a test file.
 */
export async function describeStateConformance(name: string, factory: SubjectFactory<StateStore>, opts: SuiteOptions = {}): Promise<void> {
  const features = await probeFeatures(factory, (s) => s.features(), opts);
  const declared = (f: StateFeature) => !features || features.has(f);
  (opts.skip ? describe.skip : describe)(`StateStore contract: ${name}`, () => {
    let subject: Subject<StateStore>;
    let store: StateStore;
    // Every test works under its own key prefix, so tests never see each other's keys.
    let n = 0;
    const ns = () => `t${++n}-${Math.random().toString(36).slice(2, 6)}||`;

    beforeAll(async () => {
      subject = await factory();
      store = subject.component;
    });
    afterAll(async () => {
      if (subject) await disposeOf(subject);
    });

    featureCases(STATE_FEATURES, () => store.features(), opts);

    test("get of a missing key is undefined", async () => {
      expect(await store.get(`${ns()}nope`)).toBeUndefined();
    });
    test("set then get returns exactly the bytes written: binary, unicode, empty, 1 MB", async () => {
      const p = ns();
      const binary = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const unicode = bytes("héllo wörld — 日本語 🚀 \u0000 end");
      const empty = new Uint8Array(0);
      const big = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7919) % 251);
      const cases: [string, Uint8Array][] = [["binary", binary], ["unicode", unicode], ["empty", empty], ["big", big]];
      for (const [k, v] of cases) await store.set({ key: p + k, value: v, concurrency: "last-write" });
      for (const [k, v] of cases) {
        const item = await store.get(p + k);
        expect(item?.key).toBe(p + k);
        expect(item?.value.byteLength).toBe(v.byteLength);
        expect(sameBytes(item?.value, v)).toBe(true);
      }
    });
    test("unicode keys round-trip", async () => {
      const key = `${ns()}ключ-🔑-鍵`;
      await store.set({ key, value: bytes("v"), concurrency: "last-write" });
      expect((await store.get(key))?.key).toBe(key);
    });
    test("delete of a missing key without an etag succeeds", async () => {
      await store.delete({ key: `${ns()}never`, concurrency: "last-write" });
      await store.delete({ key: `${ns()}never`, concurrency: "first-write" });
    });
    test("bulkGet returns items in request order with undefined for missing keys", async () => {
      const p = ns();
      await store.set({ key: p + "a", value: bytes("A"), concurrency: "last-write" });
      await store.set({ key: p + "c", value: bytes("C"), concurrency: "last-write" });
      const got = await store.bulkGet([p + "c", p + "b", p + "a", p + "c"]);
      expect(got.length).toBe(4);
      expect(got[0]?.key).toBe(p + "c");
      expect(sameBytes(got[0]?.value, bytes("C"))).toBe(true);
      expect(got[1]).toBeUndefined();
      expect(got[2]?.key).toBe(p + "a");
      expect(sameBytes(got[2]?.value, bytes("A"))).toBe(true);
      expect(got[3]?.key).toBe(p + "c");
      expect(await store.bulkGet([])).toEqual([]);
    });

    forFeature(features, "ETAG", () => {
      test("the etag changes on every write and a deleted-then-rewritten key gets a new one", async () => {
        const key = `${ns()}k`;
        const seen = new Set<string>();
        for (let i = 0; i < 5; i++) {
          await store.set({ key, value: bytes(`v${i}`), concurrency: "last-write" });
          const etag = (await store.get(key))!.etag;
          expect(etag).toBeTruthy();
          expect(seen.has(etag)).toBe(false);
          seen.add(etag);
        }
        await store.delete({ key, concurrency: "last-write" });
        await store.set({ key, value: bytes("again"), concurrency: "last-write" });
        expect(seen.has((await store.get(key))!.etag)).toBe(false);
      });
      test("set with the current etag lands; with a stale or unknown etag throws EtagMismatchError and changes nothing", async () => {
        const key = `${ns()}k`;
        await store.set({ key, value: bytes("one"), concurrency: "last-write" });
        const first = (await store.get(key))!.etag;
        await store.set({ key, value: bytes("two"), etag: first, concurrency: "first-write" });
        const second = await store.get(key);
        expect(sameBytes(second?.value, bytes("two"))).toBe(true);

        for (const concurrency of ["first-write", "last-write"] as const) {
          await expect(store.set({ key, value: bytes("stale"), etag: first, concurrency })).rejects.toThrow(EtagMismatchError);
        }
        await expect(store.set({ key, value: bytes("x"), etag: "not-an-etag", concurrency: "first-write" })).rejects.toThrow(EtagMismatchError);
        const after = await store.get(key);
        expect(sameBytes(after?.value, bytes("two"))).toBe(true);
        expect(after?.etag).toBe(second!.etag);
      });
      test("set with an etag on a key that does not exist throws EtagMismatchError", async () => {
        const key = `${ns()}missing`;
        await expect(store.set({ key, value: bytes("x"), etag: "abc", concurrency: "first-write" })).rejects.toThrow(EtagMismatchError);
        expect(await store.get(key)).toBeUndefined();
      });
      test("delete with a matching etag removes; with a mismatching etag throws and keeps the item", async () => {
        const key = `${ns()}k`;
        await store.set({ key, value: bytes("v"), concurrency: "last-write" });
        const etag = (await store.get(key))!.etag;
        await expect(store.delete({ key, etag: "wrong", concurrency: "first-write" })).rejects.toThrow(EtagMismatchError);
        expect((await store.get(key))?.etag).toBe(etag);
        await store.delete({ key, etag, concurrency: "first-write" });
        expect(await store.get(key)).toBeUndefined();
        await expect(store.delete({ key, etag, concurrency: "first-write" })).rejects.toThrow(EtagMismatchError);
      });
      test("first-write without an etag creates a new key but refuses an existing one; last-write overwrites", async () => {
        const key = `${ns()}k`;
        await store.set({ key, value: bytes("first"), concurrency: "first-write" });
        await expect(store.set({ key, value: bytes("second"), concurrency: "first-write" })).rejects.toThrow(EtagMismatchError);
        expect(sameBytes((await store.get(key))?.value, bytes("first"))).toBe(true);
        await store.set({ key, value: bytes("third"), concurrency: "last-write" });
        expect(sameBytes((await store.get(key))?.value, bytes("third"))).toBe(true);
      });
      test("50 parallel first-write inserts of one new key: exactly one wins, the rest get EtagMismatchError", async () => {
        const key = `${ns()}race`;
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) => store.set({ key, value: bytes(`w${i}`), concurrency: "first-write" })),
        );
        const won = results.map((r, i) => [r, i] as const).filter(([r]) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won.length).toBe(1);
        expect(lost.length).toBe(49);
        for (const l of lost) expect(l.reason).toBeInstanceOf(EtagMismatchError);
        expect(sameBytes((await store.get(key))?.value, bytes(`w${won[0][1]}`))).toBe(true);
      });
      test("50 parallel writes with the same etag: exactly one wins", async () => {
        const key = `${ns()}race-etag`;
        await store.set({ key, value: bytes("base"), concurrency: "last-write" });
        const etag = (await store.get(key))!.etag;
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) => store.set({ key, value: bytes(`w${i}`), etag, concurrency: "first-write" })),
        );
        expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
      });
    }, () => {
      test("a write with an etag the store never issued is not refused: etags are ignored", async () => {
        const key = `${ns()}k`;
        await store.set({ key, value: bytes("v"), etag: "never-issued", concurrency: "last-write" });
        expect(sameBytes((await store.get(key))?.value, bytes("v"))).toBe(true);
      });
    });

    forFeature(features, "TRANSACTIONAL", () => {
      test("a transaction whose last operation has a bad etag applies none of its operations", async () => {
        const p = ns();
        await store.set({ key: p + "existing", value: bytes("keep"), concurrency: "last-write" });
        await store.set({ key: p + "guarded", value: bytes("guarded"), concurrency: "last-write" });
        const before = await store.get(p + "existing");
        await expect(store.transact([
          { op: "upsert", key: p + "new1", value: bytes("n1"), concurrency: "last-write" },
          { op: "upsert", key: p + "existing", value: bytes("changed"), concurrency: "last-write" },
          { op: "delete", key: p + "guarded", concurrency: "last-write" },
          { op: "upsert", key: p + "guarded", value: bytes("bad"), etag: "stale-etag", concurrency: "first-write" },
        ])).rejects.toThrow(EtagMismatchError);
        expect(await store.get(p + "new1")).toBeUndefined();
        const existing = await store.get(p + "existing");
        expect(sameBytes(existing?.value, bytes("keep"))).toBe(true);
        expect(existing?.etag).toBe(before!.etag);
        expect(sameBytes((await store.get(p + "guarded"))?.value, bytes("guarded"))).toBe(true);
      });
      test("a transaction applies upserts and deletes across keys together", async () => {
        const p = ns();
        await store.set({ key: p + "gone", value: bytes("x"), concurrency: "last-write" });
        await store.set({ key: p + "kept", value: bytes("old"), concurrency: "last-write" });
        const keptEtag = (await store.get(p + "kept"))!.etag;
        await store.transact([
          { op: "upsert", key: p + "a", value: bytes("A"), concurrency: "last-write" },
          { op: "upsert", key: p + "kept", value: bytes("new"), etag: keptEtag, concurrency: "first-write" },
          { op: "delete", key: p + "gone", concurrency: "last-write" },
          { op: "upsert", key: p + "b", value: bytes("B"), concurrency: "first-write" },
        ]);
        const [a, kept, gone, b] = await store.bulkGet([p + "a", p + "kept", p + "gone", p + "b"]);
        expect(sameBytes(a?.value, bytes("A"))).toBe(true);
        expect(sameBytes(kept?.value, bytes("new"))).toBe(true);
        expect(kept?.etag).not.toBe(keptEtag);
        expect(gone).toBeUndefined();
        expect(sameBytes(b?.value, bytes("B"))).toBe(true);
      });
    }, () => {
      test("transact refuses and writes nothing (the state block never calls it)", async () => {
        const key = `${ns()}k`;
        await expect(store.transact([{ op: "upsert", key, value: bytes("v"), concurrency: "last-write" }])).rejects.toThrow();
        expect(await store.get(key)).toBeUndefined();
      });
    });

    forFeature(features, "TTL", () => {
      test("ttlInSeconds sets expiresAt; an item without a TTL has none", async () => {
        const p = ns();
        const before = Date.now();
        await store.set({ key: p + "ttl", value: bytes("v"), ttlInSeconds: 100, concurrency: "last-write" });
        const after = Date.now();
        const item = await store.get(p + "ttl");
        expect(item?.expiresAt).toBeGreaterThanOrEqual(before + 100_000 - 1000);
        expect(item?.expiresAt).toBeLessThanOrEqual(after + 100_000 + 1000);
        await store.set({ key: p + "ttl", value: bytes("v2"), concurrency: "last-write" });
        expect((await store.get(p + "ttl"))?.expiresAt).toBeUndefined();
      });
      test("an expired item is invisible to get, bulkGet and query, and first-write may take its key", async () => {
        const p = ns();
        await store.set({ key: p + "short", value: json({ x: 1 }), ttlInSeconds: 1, concurrency: "last-write" });
        await store.set({ key: p + "long", value: json({ x: 2 }), concurrency: "last-write" });
        expect(await store.get(p + "short")).toBeDefined();
        await eventually(async () => (await store.get(p + "short")) === undefined, "the item to expire");
        expect((await store.bulkGet([p + "short", p + "long"]))[0]).toBeUndefined();
        if (declared("QUERY_API")) {
          const q = await store.query!({ keyPrefix: p });
          expect(q.results.map((r) => r.key)).toEqual([p + "long"]);
        }
        await store.set({ key: p + "short", value: bytes("reborn"), concurrency: "first-write" });
        expect(sameBytes((await store.get(p + "short"))?.value, bytes("reborn"))).toBe(true);
      });
    }, () => {
      test("an item written with ttlInSeconds reports no expiry", async () => {
        const key = `${ns()}k`;
        await store.set({ key, value: bytes("v"), ttlInSeconds: 100, concurrency: "last-write" });
        expect((await store.get(key))?.expiresAt).toBeUndefined();
      });
    });

    forFeature(features, "QUERY_API", () => {
      describe("query", () => {
        const people = [
          { id: "p1", name: "ann", team: "red", n: 1, person: { org: "A" }, active: true },
          { id: "p2", name: "bob", team: "blue", n: 2, person: { org: "B" }, active: false },
          { id: "p3", name: "cid", team: "red", n: 3, person: { org: "A" } },
          { id: "p4", name: "dee", team: "green", n: 4, person: { org: "C" }, active: true },
          { id: "p5", name: "eve", team: "blue", n: 5, person: { org: "A" } },
        ];
        let p = "";
        const run = async (q: Omit<Query, "keyPrefix">) => (await store.query!({ ...q, keyPrefix: p })).results.map((r) => r.key.slice(p.length));

        beforeAll(async () => {
          p = ns();
          for (const doc of people) await store.set({ key: p + doc.id, value: json(doc), concurrency: "last-write" });
          await store.set({ key: p + "notjson", value: bytes("not json {"), concurrency: "last-write" });
          // Same shape of data under another prefix: must never show up.
          await store.set({ key: "other||p1", value: json(people[0]), concurrency: "last-write" });
          await store.set({ key: p.slice(0, -2) + "x||p9", value: json(people[0]), concurrency: "last-write" });
        });

        test("no filter returns every JSON document under the prefix, in key order", async () => {
          expect(await run({})).toEqual(["p1", "p2", "p3", "p4", "p5"]);
        });

        test("EQ, NEQ, IN on a field and on a nested path", async () => {
          expect(await run({ filter: { EQ: { team: "red" } } })).toEqual(["p1", "p3"]);
          expect(await run({ filter: { EQ: { "person.org": "A" } } })).toEqual(["p1", "p3", "p5"]);
          expect(await run({ filter: { EQ: { n: 4 } } })).toEqual(["p4"]);
          expect(await run({ filter: { NEQ: { team: "red" } } })).toEqual(["p2", "p4", "p5"]);
          expect(await run({ filter: { IN: { team: ["blue", "green"] } } })).toEqual(["p2", "p4", "p5"]);
          expect(await run({ filter: { IN: { team: [] } } })).toEqual([]);
          expect(await run({ filter: { EQ: { active: true } } })).toEqual(["p1", "p4"]);
          expect(await run({ filter: { EQ: { name: "nobody" } } })).toEqual([]);
        });

        test("GT and LT compare numbers", async () => {
          expect(await run({ filter: { GT: { n: 3 } } })).toEqual(["p4", "p5"]);
          expect(await run({ filter: { LT: { n: 3 } } })).toEqual(["p1", "p2"]);
          expect(await run({ filter: { GTE: { n: 3 } } })).toEqual(["p3", "p4", "p5"]);
          expect(await run({ filter: { LTE: { n: 1 } } })).toEqual(["p1"]);
        });

        test("AND and OR combine filters, nested", async () => {
          expect(await run({ filter: { AND: [{ EQ: { "person.org": "A" } }, { GT: { n: 1 } }] } })).toEqual(["p3", "p5"]);
          expect(await run({ filter: { OR: [{ EQ: { team: "green" } }, { LT: { n: 2 } }] } })).toEqual(["p1", "p4"]);
          expect(await run({
            filter: { OR: [{ AND: [{ EQ: { team: "blue" } }, { GT: { n: 4 } }] }, { EQ: { name: "ann" } }] },
          })).toEqual(["p1", "p5"]);
        });

        test("sort ASC and DESC, with a second key breaking ties", async () => {
          expect(await run({ sort: [{ key: "n", order: "DESC" }] })).toEqual(["p5", "p4", "p3", "p2", "p1"]);
          expect(await run({ sort: [{ key: "name", order: "ASC" }] })).toEqual(["p1", "p2", "p3", "p4", "p5"]);
          expect(await run({ sort: [{ key: "team", order: "ASC" }, { key: "n", order: "DESC" }] })).toEqual(["p5", "p2", "p4", "p3", "p1"]);
        });

        test("paging with tokens visits every match exactly once, in order, until the token runs out", async () => {
          for (const limit of [1, 2, 3, 5]) {
            const seen: string[] = [];
            let token: string | undefined;
            for (let page = 0; page < 10; page++) {
              const r = await store.query!({ keyPrefix: p, sort: [{ key: "n", order: "ASC" }], page: { limit, token } });
              expect(r.results.length).toBeLessThanOrEqual(limit);
              seen.push(...r.results.map((i) => i.key.slice(p.length)));
              token = r.token;
              if (!token) break;
            }
            expect(token).toBeUndefined();
            expect(seen).toEqual(["p1", "p2", "p3", "p4", "p5"]);
          }
        });

        test("results carry the stored bytes and current etag", async () => {
          const r = await store.query!({ keyPrefix: p, filter: { EQ: { name: "bob" } } });
          expect(r.results.length).toBe(1);
          const item: StateItem = r.results[0];
          expect(JSON.parse(new TextDecoder().decode(item.value))).toEqual(people[1]);
          expect(item.etag).toBe((await store.get(p + "p2"))!.etag);
        });
      });
    }, () => {
      test("has no query method", () => {
        expect(store.query).toBeUndefined();
      });
    });

    test("ping answers while the backend is up", async () => {
      await store.ping?.();
    });
  });
}
