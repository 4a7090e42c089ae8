import { describe, expect, test } from "bun:test";
import { HashPlacement } from "../../src/blocks/actors/placement/hash-placement.js";
import { MemoryHosts } from "../../src/blocks/actors/placement/memory-hosts.js";
import type { ActorMove, HostInfo } from "../../src/blocks/actors/placement/types.js";

const host = (id: string, actorTypes: Record<string, number>): HostInfo => ({ id, address: `127.0.0.1:${id.slice(1)}`, actorTypes });

describe("hash placement", () => {
  test("locates among the hosts of the actor's type only, with the view's epoch", () => {
    const hosts = new MemoryHosts([host("h1", { cart: 0 }), host("h2", { cart: 3, user: 1 }), host("h3", { user: 0 })]);
    const placement = new HashPlacement(hosts, "h1");
    for (let i = 0; i < 100; i++) {
      expect(["h1", "h2"]).toContain(placement.locate("cart", `c${i}`)!.host);
      expect(["h2", "h3"]).toContain(placement.locate("user", `u${i}`)!.host);
    }
    const loc = placement.locate("user", "u1")!;
    expect(loc.address).toBe(`127.0.0.1:${loc.host.slice(1)}`);
    expect(loc.epoch).toBe(0);
    expect(placement.locate("nobody-hosts-this", "x")).toBeUndefined();
    hosts.upsert(host("h4", {}));
    expect(placement.locate("user", "u1")!.epoch).toBe(1);
  });

  test("every node computes the same owners from the same hosts, whatever their order", () => {
    const list = [host("h1", { t: 0 }), host("h2", { t: 0 }), host("h3", { t: 0 })];
    const a = new HashPlacement(new MemoryHosts(list), "h1");
    const b = new HashPlacement(new MemoryHosts([...list].reverse()), "h3");
    for (let i = 0; i < 200; i++) expect(b.locate("t", `${i}`)!.host).toBe(a.locate("t", `${i}`)!.host);
  });

  test("a new view reports exactly the locally active actors that now belong elsewhere", () => {
    const hosts = new MemoryHosts([host("h1", { t: 0 }), host("h2", { t: 0 })]);
    const placement = new HashPlacement(hosts, "h1");
    const mine = Array.from({ length: 400 }, (_, i) => `a${i}`).filter((id) => placement.locate("t", id)!.host === "h1");
    for (const id of mine) placement.activated("t", id);
    placement.deactivated("t", mine[0]);
    const reported: ActorMove[][] = [];
    placement.onMoved((moves) => reported.push([...moves]));

    hosts.upsert(host("h2", { t: 5 })); // a load change only: the ring is the same, nothing moves
    expect(reported).toEqual([]);

    hosts.upsert(host("h3", { t: 0 }));
    expect(reported.length).toBe(1);
    const moved = reported[0];
    const expected = mine.slice(1).filter((id) => placement.locate("t", id)!.host !== "h1");
    expect(moved.map((m) => m.actorId).sort()).toEqual(expected.sort());
    for (const m of moved) expect(m.to).toEqual({ host: "h3", address: "127.0.0.1:3", epoch: 2 });
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThan(mine.length);

    hosts.set([host("h2", { t: 0 })]); // this node's app stopped hosting t: every active one moves to h2
    const last = reported[1];
    expect(last.length).toBe(mine.length - 1);
    for (const m of last) expect(m.to!.host).toBe("h2");
  });

  test("when no host serves the type any more, its active actors move to nowhere", () => {
    const hosts = new MemoryHosts([host("h1", { t: 0 })]);
    const placement = new HashPlacement(hosts, "h1");
    placement.activated("t", "x");
    const reported: ActorMove[] = [];
    placement.onMoved((moves) => reported.push(...moves));
    hosts.set([host("h1", {})]);
    expect(reported).toEqual([{ actorType: "t", actorId: "x", to: undefined }]);
  });

  test("close stops following the view", () => {
    const hosts = new MemoryHosts([host("h1", { t: 0 })]);
    const placement = new HashPlacement(hosts, "h1");
    placement.activated("t", "x");
    let calls = 0;
    placement.onMoved(() => calls++);
    placement.close();
    hosts.set([host("h2", { t: 0 })]);
    expect(calls).toBe(0);
    expect(placement.locate("t", "x")!.host).toBe("h1");
  });
});
