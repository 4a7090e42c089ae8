// SWIM + Lifeguard membership on the deterministic simulated network (virtual time, seeded randomness).
import { describe, expect, test } from "bun:test";
import { Simulation } from "../../src/cluster/membership/simulation.js";
import { Suspicion } from "../../src/cluster/membership/suspicion.js";
import type { MembershipEvent } from "../../src/cluster/membership/types.js";

function stateOf(sim: Simulation, observer: string, id: string) {
  return sim.nodes.get(observer)!.member(id)?.state;
}

function everyone(sim: Simulation, id: string, state: string): boolean {
  return sim.liveNodes().every((n) => n.id === id || n.member(id)?.state === state);
}

function record(sim: Simulation): MembershipEvent[] & { by: Map<string, MembershipEvent[]> } {
  const all = Object.assign([] as MembershipEvent[], { by: new Map<string, MembershipEvent[]>() });
  for (const node of sim.nodes.values()) {
    const mine: MembershipEvent[] = [];
    all.by.set(node.id, mine);
    node.on((e) => {
      all.push(e);
      mine.push(e);
    });
  }
  return all;
}

describe("SWIM membership (simulated network)", () => {
  test("nodes joining through one seed converge on the full member list", () => {
    const sim = new Simulation({ seed: 3 });
    const ids = ["a", "b", "c", "d", "e"];
    for (const id of ids) sim.addNode(id, { app: `app-${id}` });
    const events = record(sim);
    for (const n of sim.nodes.values()) {
      n.start();
      if (n.id !== "a") n.join(["a"]);
    }
    const converged = sim.run(30_000, () =>
      ids.every((o) => ids.every((id) => stateOf(sim, o, id) === "alive")),
    );
    expect(converged).toBe(true);
    expect(sim.nodes.get("e")!.member("b")!.metadata).toEqual({ app: "app-b" });
    expect(events.by.get("c")!.filter((e) => e.type === "join").map((e) => e.member.id).sort()).toEqual(["a", "b", "d", "e"]);
  });

  test("a crashed member is suspected, then marked failed by every survivor", () => {
    const sim = Simulation.seeded(20, { seed: 5 });
    const events = record(sim);
    sim.run(2000);
    sim.crash("n7");
    expect(sim.run(60_000, () => everyone(sim, "n7", "dead"))).toBe(true);
    expect(events.some((e) => e.type === "suspect" && e.member.id === "n7")).toBe(true);
    expect(events.filter((e) => e.type === "fail").every((e) => e.member.id === "n7")).toBe(true);
  });

  test("a member cut off briefly refutes the suspicion with a higher incarnation", () => {
    const sim = Simulation.seeded(10, { seed: 9 });
    const events = record(sim);
    sim.run(2000);
    const others = [...sim.nodes.keys()].filter((id) => id !== "n3");
    sim.partition([["n3"], others]);
    expect(sim.run(10_000, () => events.some((e) => e.type === "suspect" && e.member.id === "n3"))).toBe(true);
    sim.heal();
    expect(sim.run(30_000, () => everyone(sim, "n3", "alive") && sim.nodes.get("n3")!.incarnation > 0)).toBe(true);
    expect(events.some((e) => e.type === "fail" && e.member.id === "n3")).toBe(false);
    expect(events.some((e) => e.type === "alive" && e.member.id === "n3")).toBe(true);
    expect(sim.nodes.get("n0")!.member("n3")!.incarnation).toBe(sim.nodes.get("n3")!.incarnation);
  });

  test("metadata changes spread as update events", () => {
    const sim = Simulation.seeded(15, { seed: 2 });
    const events = record(sim);
    sim.run(1000);
    sim.nodes.get("n4")!.setMetadata({ load: "0.75" });
    expect(sim.run(30_000, () => sim.liveNodes().every((n) => n.member("n4")!.metadata.load === "0.75"))).toBe(true);
    expect(events.filter((e) => e.type === "update" && e.member.id === "n4").length).toBe(14);
  });

  test("a graceful leave is seen as leave, never as failure", async () => {
    const sim = Simulation.seeded(12, { seed: 4 });
    const events = record(sim);
    sim.run(1000);
    const leaving = sim.nodes.get("n6")!.leave(500);
    expect(sim.run(30_000, () => everyone(sim, "n6", "left"))).toBe(true);
    sim.run(1000);
    await leaving;
    expect(events.filter((e) => e.type === "leave" && e.member.id === "n6").length).toBe(11);
    expect(events.some((e) => e.type === "fail")).toBe(false);
  });

  test("a restarted member rejoins with a higher incarnation than the one it died with", () => {
    const sim = Simulation.seeded(8, { seed: 6 });
    sim.run(1000);
    sim.crash("n2");
    expect(sim.run(60_000, () => everyone(sim, "n2", "dead"))).toBe(true);
    const deadIncarnation = sim.nodes.get("n0")!.member("n2")!.incarnation;
    const reborn = sim.restart("n2", ["n0"]);
    expect(sim.run(60_000, () => everyone(sim, "n2", "alive") && sim.liveNodes().every((n) => n.members().filter((m) => m.state === "alive").length === 8))).toBe(true);
    expect(reborn.incarnation).toBeGreaterThan(deadIncarnation);
  });

  test("two halves of a partition mark each other failed, then heal into one view", () => {
    const sim = Simulation.seeded(8, { seed: 8, config: { syncIntervalMs: 2000 } });
    sim.run(1000);
    const left = ["n0", "n1", "n2", "n3"];
    const right = ["n4", "n5", "n6", "n7"];
    sim.partition([left, right]);
    expect(sim.run(60_000, () => left.every((a) => right.every((b) => stateOf(sim, a, b) === "dead" && stateOf(sim, b, a) === "dead")))).toBe(true);
    sim.heal();
    const all = [...left, ...right];
    expect(sim.run(120_000, () => all.every((a) => all.every((b) => stateOf(sim, a, b) === "alive")))).toBe(true);
  });

  test("no false failures among 100 members over 60 simulated seconds of 10% packet loss", () => {
    const sim = Simulation.seeded(100, { seed: 11, loss: 0.1 });
    const events = record(sim);
    sim.run(60_000);
    expect(events.filter((e) => e.type === "fail")).toEqual([]);
    expect(events.some((e) => e.type === "suspect")).toBe(true); // loss does cause suspicions; all refuted
  });
});

describe("adaptive probe timeouts", () => {
  test("on a 200-500 ms round-trip network (WAN) nobody is failed, though the probe timeout is 200 ms", () => {
    const sim = new Simulation({ seed: 3, minLatencyMs: 100, maxLatencyMs: 250 });
    const ids = Array.from({ length: 30 }, (_, i) => `n${i}`);
    for (const id of ids) sim.addNode(id);
    for (const n of sim.nodes.values()) {
      n.seed(ids.map((id) => ({ id, addr: id })));
      n.start();
    }
    const events = record(sim);
    sim.run(120_000);
    expect(events.filter((e) => e.type === "fail")).toEqual([]);
    // and a crash there is still detected
    sim.crash("n5");
    expect(sim.run(120_000, () => everyone(sim, "n5", "dead"))).toBe(true);
  });
});

describe("Lifeguard suspicion timeout", () => {
  test("falls from max towards min as independent members confirm", () => {
    const s = new Suspicion(0, 1000, 4000, 3, "a");
    const first = s.deadline();
    expect(first).toBe(4000);
    expect(s.confirm("a")).toBe(false); // the same member again is not independent
    expect(s.confirm("b")).toBe(true);
    const second = s.deadline();
    expect(second).toBeLessThan(first);
    s.confirm("c");
    s.confirm("d");
    expect(s.deadline()).toBe(1000);
  });

  test("minimum scales with log10 of the cluster size", () => {
    const small = Simulation.seeded(10, { seed: 1 });
    const big = Simulation.seeded(1000, { seed: 1 });
    const timeout = (sim: Simulation) => (sim.nodes.get("n0") as any).suspicionMin() as number;
    expect(timeout(big) / timeout(small)).toBeCloseTo(Math.log10(1000) / Math.log10(10), 1);
  });
});
