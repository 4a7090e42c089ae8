import { describe, expect, test } from "bun:test";
import { DEFAULT_VIRTUAL_NODES, HashRing, ringHash } from "../../src/blocks/actors/placement/hash-ring.js";

const hosts = ["10.0.0.1:50002", "10.0.0.2:50002", "10.0.0.3:50002"];
const ids = (n: number, prefix = "actor-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function ownersOf(ring: HashRing, keys: string[]): Map<string, string> {
  return new Map(keys.map((k) => [k, ring.owner(k)!]));
}

describe("hash ring contract (a wire format: every node computes these owners)", () => {
  test("the hash is daprd's: BLAKE2b-512, first 8 bytes little-endian", () => {
    // RFC 7693's BLAKE2b-512("abc") begins ba 80 a5 3f 98 1c 4d 0d.
    expect(ringHash("abc")).toBe(0x0d4d1c983fa580ban);
    // daprd's virtual node points for host "192.168.1.83:60992" (pkg/placement/hashing/consistent_hash_test.go).
    expect([0, 1, 2, 3, 4].map((i) => ringHash(`192.168.1.83:60992${i}`))).toEqual([
      11414427053803968138n,
      6110756290993384529n,
      13876541546109691082n,
      12165331075625862737n,
      9528020266818944582n,
    ]);
  });

  test(`literal owners with the default ${DEFAULT_VIRTUAL_NODES} virtual nodes`, () => {
    const ring = HashRing.of(hosts);
    expect(Object.fromEntries(ownersOf(ring, ["0", "1", "2", "actor-1", "actor-2", "order-42", "user/7", "ü", "", "a||b"]))).toEqual({
      "0": "10.0.0.2:50002",
      "1": "10.0.0.3:50002",
      "2": "10.0.0.2:50002",
      "actor-1": "10.0.0.3:50002",
      "actor-2": "10.0.0.3:50002",
      "order-42": "10.0.0.3:50002",
      "user/7": "10.0.0.1:50002",
      ü: "10.0.0.1:50002",
      "": "10.0.0.3:50002",
      "a||b": "10.0.0.2:50002",
    });
  });

  test("literal owners with daprd's replication factor of 100", () => {
    const ring = HashRing.of(["node1", "node2", "node3", "node4", "node5"], 100);
    expect(["0", "1", "2", "3", "4", "5", "6", "7"].map((k) => ring.owner(k))).toEqual([
      "node2", "node1", "node1", "node5", "node2", "node5", "node5", "node1",
    ]);
  });

  test("the host list's order and duplicates do not matter", () => {
    const keys = ids(300);
    const a = ownersOf(HashRing.of(hosts), keys);
    const b = ownersOf(HashRing.of([hosts[2], hosts[0], hosts[1], hosts[0]]), keys);
    expect(b).toEqual(a);
  });

  test("colliding points are assigned alike whatever the order (daprd's labels: 'a1'+'0' = 'a'+'10')", () => {
    const one = HashRing.of(["a", "a1"], 20);
    const two = HashRing.of(["a1", "a"], 20);
    // "a10".."a19" are points of both hosts: 40 labels, 30 points.
    expect(one.size).toBe(30);
    expect(two.size).toBe(30);
    const keys = ids(2000);
    expect(ownersOf(two, keys)).toEqual(ownersOf(one, keys));
  });

  test("no hosts, no owner; bad virtual node counts are refused", () => {
    expect(HashRing.of([]).owner("x")).toBeUndefined();
    expect(() => HashRing.of(hosts, 0)).toThrow(RangeError);
    expect(() => HashRing.of(hosts, 1.5)).toThrow(RangeError);
  });
});

describe("hash ring balance and movement", () => {
  test("1,000 ids over 3 hosts land within ±25% of even, for 50 different host sets", () => {
    let worst = 0;
    for (let s = 0; s < 50; s++) {
      const set = [0, 1, 2].map((i) => `10.1.${s}.${i}:${50_000 + s}`);
      const ring = HashRing.of(set);
      const counts = new Map(set.map((h) => [h, 0]));
      for (const id of ids(1000, `s${s}-`)) counts.set(ring.owner(id)!, counts.get(ring.owner(id)!)! + 1);
      for (const c of counts.values()) worst = Math.max(worst, Math.abs(c - 1000 / 3) / (1000 / 3));
    }
    expect(worst).toBeLessThanOrEqual(0.25);
  });

  test("a joining host takes only keys for itself, about 1/n of them", () => {
    const keys = ids(1000);
    const before = ownersOf(HashRing.of(hosts), keys);
    const after = ownersOf(HashRing.of([...hosts, "10.0.0.4:50002"]), keys);
    const moved = keys.filter((k) => before.get(k) !== after.get(k));
    for (const k of moved) expect(after.get(k)).toBe("10.0.0.4:50002");
    expect(moved.length).toBeGreaterThan(1000 / 4 * 0.6);
    expect(moved.length).toBeLessThan(1000 / 4 * 1.4);
  });

  test("a leaving host gives up only its own keys", () => {
    const keys = ids(1000);
    const before = ownersOf(HashRing.of(hosts), keys);
    const after = ownersOf(HashRing.of(hosts.slice(0, 2)), keys);
    const moved = keys.filter((k) => before.get(k) !== after.get(k));
    for (const k of moved) expect(before.get(k)).toBe(hosts[2]);
    expect(moved.length).toBe(keys.filter((k) => before.get(k) === hosts[2]).length);
  });
});
