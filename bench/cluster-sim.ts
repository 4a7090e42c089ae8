// Deterministic simulation of the SWIM/Lifeguard membership code (src/cluster/membership) on a
// simulated network. Prints, for 100 and 1,000 nodes at the default protocol period:
//   - time until every surviving member has marked a crashed member failed (p50/p99 over trials)
//   - false failures under 10% packet loss over a simulated window (10 minutes; --quick shortens it)
//   - messages sent per node per second (no loss, and with 10% loss)
// Usage: bun bench/cluster-sim.ts [--quick] [--sizes 100,1000] [--trials N]
import { Simulation } from "../src/cluster/membership/simulation.js";
import { defaultSwimConfig } from "../src/cluster/membership/types.js";
import { flagText, hasFlag } from "./flags.js";
import { percentile } from "./measure.js";

const quick = hasFlag("quick");
const sizes = (flagText("sizes") ?? "100,1000").split(",").map(Number);
const trialsFor = (n: number) => Number(flagText("trials") ?? (n >= 1000 ? 10 : 30));
const config = JSON.parse(flagText("config") ?? "{}");
const lossWindowMs = Number(flagText("loss-window-s") ?? (quick ? 60 : 600)) * 1000;

/** One crash in a settled cluster: ms until every survivor has emitted `fail` for the victim. */
function crashTrial(n: number, seed: number): { agreementMs: number; firstSuspectMs: number } {
  const sim = Simulation.seeded(n, { seed, config });
  sim.run(3000);
  const victim = `n${Math.floor(sim.random() * n)}`;
  let failed = 0;
  let firstSuspect = -1;
  const start = sim.now;
  for (const node of sim.nodes.values()) {
    if (node.id === victim) continue;
    node.on((e) => {
      if (e.member.id !== victim) return;
      if (e.type === "fail") failed++;
      if (e.type === "suspect" && firstSuspect < 0) firstSuspect = sim.now - start;
    });
  }
  sim.crash(victim);
  const agreed = sim.run(120_000, () => failed === n - 1);
  return { agreementMs: agreed ? sim.now - start : Infinity, firstSuspectMs: firstSuspect };
}

function lossRun(n: number, loss: number, windowMs: number, seed: number) {
  const sim = Simulation.seeded(n, { seed, loss, config });
  let falseFailures = 0;
  let suspicions = 0;
  for (const node of sim.nodes.values()) {
    node.on((e) => {
      if (e.type === "fail") falseFailures++;
      if (e.type === "suspect") suspicions++;
    });
  }
  sim.run(windowMs);
  return { falseFailures, suspicions, msgsPerNodePerSec: sim.messagesSent / n / (windowMs / 1000) };
}

const cfg = { ...defaultSwimConfig, ...config };
console.log(
  `SWIM+Lifeguard simulation: probe ${cfg.probeIntervalMs} ms, probe timeout ${cfg.probeTimeoutMs} ms, k=${cfg.indirectChecks}, ` +
    `gossip every ${cfg.gossipIntervalMs} ms to ${cfg.gossipNodes}, suspicion ${cfg.suspicionMult}..${cfg.suspicionMult * cfg.suspicionMaxMult} x log10(n) x period; latency 1-5 ms`,
);
for (const n of sizes) {
  const t0 = performance.now();
  const trials = trialsFor(n);
  const results = Array.from({ length: trials }, (_, i) => crashTrial(n, 1000 + i));
  const agreement = results.map((r) => r.agreementMs).sort((a, b) => a - b);
  const suspect = results.map((r) => r.firstSuspectMs).sort((a, b) => a - b);
  console.log(
    `n=${n}: crash -> full agreement p50 ${(percentile(agreement, 50) / 1000).toFixed(2)} s, p99 ${(percentile(agreement, 99) / 1000).toFixed(2)} s, ` +
      `max ${(agreement.at(-1)! / 1000).toFixed(2)} s (first suspicion p50 ${(percentile(suspect, 50) / 1000).toFixed(2)} s; ${trials} trials)`,
  );
  const clean = lossRun(n, 0, 60_000, 7);
  console.log(`n=${n}: no loss, 60 s: ${clean.msgsPerNodePerSec.toFixed(2)} msgs/node/s, false failures ${clean.falseFailures}`);
  const lossy = lossRun(n, 0.1, n >= 1000 && !hasFlag("full") ? Math.min(lossWindowMs, 120_000) : lossWindowMs, 11);
  const windowS = (n >= 1000 && !hasFlag("full") ? Math.min(lossWindowMs, 120_000) : lossWindowMs) / 1000;
  console.log(
    `n=${n}: 10% loss, ${windowS} s: false failures ${lossy.falseFailures}, suspicions raised ${lossy.suspicions} (all refuted unless failures > 0), ` +
      `${lossy.msgsPerNodePerSec.toFixed(2)} msgs/node/s  [wall ${((performance.now() - t0) / 1000).toFixed(1)} s]`,
  );
}
