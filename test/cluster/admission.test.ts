// Issue 11: a weak cluster secret is refused at start (its topic on the DHT would give it away offline),
// `rapr cluster-secret` makes a good one, and an outsider who knows the topic gets nothing from a member but
// its admission proof. Through the compiled binary ($RAPR_BIN or dist/rapr); the outsider is a plain
// hyperswarm peer in this process on a local testnet.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, hkdfSync, scryptSync } from "node:crypto";
import { runRapr } from "../support/rapr-cli.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort } from "../support/ports.js";
import {
  admissionProof,
  CLUSTER_KDF_SALT_PREFIX,
  CLUSTER_SCRYPT,
  clusterSecretWeakness,
  deriveClusterKeys,
  proofMatches,
} from "../../src/cluster/keys.js";
import { secretWeakness } from "../../src/security/secret-strength.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
}, 30_000);

describe("cluster secret strength (rapr binary)", () => {
  for (const [how, args, env] of [
    ["--cluster-secret a", ["--cluster-secret", "a"], {}],
    ["a repetitive 20-character --cluster-secret", ["--cluster-secret", "abababababababababab"], {}],
    ["RAPR_CLUSTER_SECRET=short", [], { RAPR_CLUSTER_SECRET: "short" }],
  ] as const) {
    test(`${how} is refused before start with exit 2 and how to make a good one`, async () => {
      const r = await runRapr(["run", "--app-id", "weak", "--cluster", "shop", "--cluster-dht=false", ...args], { env: { ...env } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("the cluster secret is too weak");
      expect(r.stderr).toContain("rapr cluster-secret");
    });
  }

  test("--cluster without any secret is refused with exit 2", async () => {
    const r = await runRapr(["run", "--app-id", "nosecret", "--cluster", "shop"], { env: { RAPR_CLUSTER_SECRET: "" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--cluster needs --cluster-secret");
  });

  test("rapr cluster-secret prints a fresh secret that passes the check", async () => {
    const [a, b] = await Promise.all([runRapr(["cluster-secret"]), runRapr(["cluster-secret"])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const [sa, sb] = [a.stdout.trim(), b.stdout.trim()];
    expect(sa).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sa).not.toBe(sb);
    expect(clusterSecretWeakness(sa)).toBeUndefined();
    expect((await runRapr(["cluster-secret", "extra"])).code).toBe(2);
  });
});

describe("cluster key derivation", () => {
  test("keys come from scrypt salted with the cluster name, not a fast hash", async () => {
    const secret = "orders-test-secret-5f0c1a9e2d";
    const master = scryptSync(secret, CLUSTER_KDF_SALT_PREFIX + "orders", 32, CLUSTER_SCRYPT);
    const topic = createHash("sha256").update(Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), "topic", 32))).digest();
    const keys = await deriveClusterKeys("orders", secret);
    expect(keys.topic.equals(topic)).toBe(true);
    expect(CLUSTER_SCRYPT.N! * CLUSTER_SCRYPT.r!).toBeGreaterThanOrEqual(1 << 19); // ≥ 64 MiB per guess
    expect((await deriveClusterKeys("other", secret)).topic.equals(topic)).toBe(false);
    expect(keys.sealKey.equals(keys.proofKey)).toBe(false);
  });

  test("strength: 16 characters and ~64 bits at least; repetition scores low", () => {
    expect(secretWeakness("k3Qx9Tz1Lm7Bw2Vn")).toBeUndefined(); // 16 distinct characters: 64 bits
    expect(secretWeakness("k3Qx9Tz1Lm7Bw2V")).toContain("length 15");
    expect(secretWeakness("passwordpassword")).toContain("too weak");
    expect(secretWeakness("ab".repeat(40))).toContain("too weak");
    expect(secretWeakness("k3Qx9Tz1Lm7Bw2Vn".repeat(3) + "k3Q")).toBeUndefined(); // a repeated strong pattern is as strong as one
    expect(secretWeakness("s3cret-".repeat(6))).toContain("too weak");
  });

  test("a weak secret is refused by the library too", async () => {
    await expect(deriveClusterKeys("orders", "s3cret")).rejects.toThrow("too weak");
  });

  test("a proof is bound to its connection and its role", async () => {
    const { proofKey } = await deriveClusterKeys("orders", "orders-test-secret-5f0c1a9e2d");
    const [h1, h2] = [Buffer.alloc(64, 1), Buffer.alloc(64, 2)];
    const p = admissionProof(proofKey, h1, true);
    expect(proofMatches(admissionProof(proofKey, h1, true), p)).toBe(true);
    expect(proofMatches(admissionProof(proofKey, h2, true), p)).toBe(false); // replay on another connection
    expect(proofMatches(admissionProof(proofKey, h1, false), p)).toBe(false); // reflected back
  });
});

describe("admission handshake (rapr binary)", () => {
  test("an outsider that knows the topic receives the member's proof and nothing else, then is dropped", async () => {
    const createTestnet = require("@hyperswarm/testnet");
    const testnet = await createTestnet(3, { host: "127.0.0.1" });
    cleanups.push(() => testnet.destroy());
    const bootstrap = testnet.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`);
    const secret = "outsider-test-secret-9b3e7d21a4";
    const memberId = "member-7c1d";
    const clusterPort = await freePort();
    const member: Sidecar = await startSidecar({
      appId: "insider",
      env: { RAPR_CLUSTER_DHT_HOST: "127.0.0.1", RAPR_CLUSTER_SECRET: secret },
      args: [
        "--enable-metrics=false",
        "--cluster", "vault", "--cluster-bootstrap", bootstrap.join(","),
        "--cluster-host", "127.0.0.1", "--cluster-port", String(clusterPort), "--cluster-member-id", memberId,
      ],
    });
    cleanups.push(async () => {
      member.proc.kill("SIGKILL");
      await member.proc.exited;
    });

    // The outsider has the topic (anyone can see it announced on the DHT) but not the secret.
    const { topic, proofKey } = await deriveClusterKeys("vault", secret);
    const Hyperswarm = require("hyperswarm");
    const DHT = require("hyperdht");
    const outsider = new Hyperswarm({ dht: new DHT({ bootstrap, host: "127.0.0.1", firewalled: false }) });
    cleanups.push(() => outsider.destroy());
    const received: Buffer[] = [];
    let expectedProof: Buffer | undefined;
    const closed = new Promise<void>((resolve) =>
      outsider.on("connection", (conn: any) => {
        conn.on("error", () => {});
        if (expectedProof) return conn.destroy(); // only the first connection is watched
        expectedProof = admissionProof(proofKey, conn.handshakeHash, !conn.isInitiator);
        conn.on("data", (d: Buffer) => {
          received.push(Buffer.from(d));
          // Answer with a proof made without the secret; the member must hang up.
          if (received.length === 1) conn.write(Buffer.alloc(32, 7));
        });
        conn.once("close", () => resolve());
      }),
    );
    outsider.join(topic, { server: true, client: true });
    const outcome = await Promise.race([closed.then(() => "closed"), Bun.sleep(45_000).then(() => "timeout")]);
    expect(outcome).toBe("closed");

    expect(received.length).toBe(1);
    expect(received[0].byteLength).toBe(32);
    expect(proofMatches(expectedProof!, received[0])).toBe(true);
    const all = Buffer.concat(received).toString("latin1");
    expect(all).not.toContain(memberId);
    expect(all).not.toContain(String(clusterPort));

    member.proc.kill("SIGTERM");
    await member.proc.exited;
    expect(await member.output()).toContain("rejected peer without the cluster secret");
  }, 90_000);
});
