// A network partition between two network namespaces (joined by a veth pair): four rapr processes, two on
// each side, form one cluster over static peers; cutting the link makes each side mark the other failed;
// restoring it heals both sides into one view again. Needs root (ip netns); skips with a reason otherwise.
import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const tag = String(process.pid % 100000);
const ns = { a: `rapr-cl-${tag}-a`, b: `rapr-cl-${tag}-b` };
const ifs = { a: `rcla${tag}`, b: `rclb${tag}` };
const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const ip = { a: `${subnet}.1`, b: `${subnet}.2` };
const dir = mkdtempSync(join(tmpdir(), "rapr-cluster-netns-"));

function sh(cmd: string[]): { ok: boolean; out: string } {
  try {
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: (r.stdout.toString() + r.stderr.toString()).trim() };
  } catch (err) {
    return { ok: false, out: String(err) };
  }
}

function setUpNetwork(): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  if (!Bun.which("ip")) return "no `ip` command";
  if (!Bun.which("curl")) return "no `curl` to query sidecars inside the namespaces";
  const steps = [
    ["ip", "netns", "add", ns.a],
    ["ip", "netns", "add", ns.b],
    ["ip", "link", "add", ifs.a, "netns", ns.a, "type", "veth", "peer", "name", ifs.b, "netns", ns.b],
    ["ip", "-n", ns.a, "addr", "add", `${ip.a}/24`, "dev", ifs.a],
    ["ip", "-n", ns.b, "addr", "add", `${ip.b}/24`, "dev", ifs.b],
    ["ip", "-n", ns.a, "link", "set", ifs.a, "up"],
    ["ip", "-n", ns.b, "link", "set", ifs.b, "up"],
    ["ip", "-n", ns.a, "link", "set", "lo", "up"],
    ["ip", "-n", ns.b, "link", "set", "lo", "up"],
  ];
  for (const step of steps) {
    const r = sh(step);
    if (!r.ok) return `\`${step.join(" ")}\` failed: ${r.out}`;
  }
  return undefined;
}

const unavailable = setUpNetwork();
if (unavailable) console.warn(`skipping cluster partition test: ${unavailable}`);

interface Node {
  id: string;
  side: "a" | "b";
  httpPort: number;
  proc: Subprocess;
}
const nodes: Node[] = [];
const CLUSTER_PORT = { 1: 17101, 2: 17102 } as const;

function startNode(side: "a" | "b", n: 1 | 2): Node {
  const id = `${side}${n}`;
  const httpPort = 3600 + n;
  const peers = [`${ip.a}:${CLUSTER_PORT[1]}`, `${ip.a}:${CLUSTER_PORT[2]}`, `${ip.b}:${CLUSTER_PORT[1]}`, `${ip.b}:${CLUSTER_PORT[2]}`];
  const args = [
    "run", "--app-id", `app-${id}`,
    "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(50100 + n), "--enable-metrics=false",
    "--data-dir", join(dir, id), "--log-level", "warn",
    "--cluster", "netns", "--cluster-secret", "netns-test-secret-c61f0d84b2", "--cluster-dht=false",
    "--cluster-host", ip[side], "--cluster-port", String(CLUSTER_PORT[n]), "--cluster-member-id", id,
    "--cluster-peers", peers.join(","),
    "--cluster-probe-interval", "200", "--cluster-probe-timeout", "100", "--cluster-sync-interval", "1000",
  ];
  const proc = Bun.spawn(["ip", "netns", "exec", ns[side], join(root, "node_modules/.bin/bun"), join(root, "src/main.ts"), ...args], {
    cwd: root,
    stdout: "ignore",
    stderr: "ignore",
    env: { ...process.env, RAPR_LOG_LEVEL: "", RAPR_REGISTRY_DIR: join(dir, `registry-${side}`) },
  });
  const node = { id, side, httpPort, proc };
  nodes.push(node);
  return node;
}

function view(node: Node): Record<string, string> {
  const r = sh(["ip", "netns", "exec", ns[node.side], "curl", "-s", "--max-time", "2", `http://127.0.0.1:${node.httpPort}/v1.0-alpha1/cluster/members`]);
  if (!r.ok) return {};
  try {
    const body = JSON.parse(r.out) as { members: Array<{ id: string; state: string }> };
    return Object.fromEntries(body.members.map((m) => [m.id, m.state]));
  } catch {
    return {};
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await Bun.sleep(250);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(nodes.map((n) => [n.id, view(n)]))}`);
}

afterAll(async () => {
  for (const n of nodes) n.proc.kill("SIGKILL");
  await Promise.all(nodes.map((n) => n.proc.exited));
  sh(["ip", "netns", "del", ns.a]);
  sh(["ip", "netns", "del", ns.b]);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe.skipIf(!!unavailable)("cluster partition across network namespaces", () => {
  test("both sides mark the other failed while cut, then heal into one view", async () => {
    for (const side of ["a", "b"] as const) for (const n of [1, 2] as const) startNode(side, n);
    const all = ["a1", "a2", "b1", "b2"];
    const everyoneSees = (state: (viewer: Node, id: string) => boolean) => nodes.every((v) => all.every((id) => state(v, id)));

    await until("one cluster of four", () => {
      const views = new Map(nodes.map((n) => [n.id, view(n)]));
      return everyoneSees((v, id) => views.get(v.id)![id] === "alive");
    }, 60_000);

    expect(sh(["ip", "-n", ns.a, "link", "set", ifs.a, "down"]).ok).toBe(true);
    await until("each side to mark the other dead", () => {
      const views = new Map(nodes.map((n) => [n.id, view(n)]));
      return everyoneSees((v, id) => views.get(v.id)![id] === (id[0] === v.side ? "alive" : "dead"));
    }, 60_000);

    expect(sh(["ip", "-n", ns.a, "link", "set", ifs.a, "up"]).ok).toBe(true);
    await until("the two sides to heal into one view", () => {
      const views = new Map(nodes.map((n) => [n.id, view(n)]));
      return everyoneSees((v, id) => views.get(v.id)![id] === "alive");
    }, 60_000);
  }, 200_000);
});
