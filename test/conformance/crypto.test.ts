// One conformance suite for the crypto contract, run against crypto.dapr.localstorage and crypto.dapr.jwks (inline,
// file and URL): key lookup, wrapping, subtle encryption, signatures cross-checked with node:crypto, refusals; and the
// dapr.io/enc/v1 scheme with its file key wrapped by each plugin.
import { afterAll, describe, expect, test } from "bun:test";
import { constants, createHash, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import cryptoJwks from "../../plugins/crypto.dapr.jwks/index.js";
import cryptoLocalstorage from "../../plugins/crypto.dapr.localstorage/index.js";
import { builtinPlugins } from "../../plugins/index.js";
import { decrypt, encrypt } from "../../src/blocks/crypto/scheme/index.js";
import { CryptoKeyNotFoundError, CryptoOperationError, type SubtleCrypto } from "../../src/components/contracts/crypto.js";
import { parseMetadata } from "../../src/components/metadata-schema.js";
import type { ComponentPlugin } from "../../src/components/plugin.js";
import { silentLogger } from "../../src/observability/logger.js";

const scratch = mkdtempSync(join(tmpdir(), "rapr-conf-crypto-"));
const created: SubtleCrypto[] = [];
const servers: { stop(force?: boolean): unknown }[] = [];
afterAll(async () => {
  await Promise.allSettled(created.map((c) => c.close()));
  for (const s of servers) s.stop(true);
  rmSync(scratch, { recursive: true, force: true });
});

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ec384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
const ec521 = generateKeyPairSync("ec", { namedCurve: "P-521" });
const ed = generateKeyPairSync("ed25519");
const aes256 = randomBytes(32);
const aes128 = randomBytes(16);

// Key files for crypto.dapr.localstorage, in every format it reads.
const keysDir = join(scratch, "keys");
mkdirSync(keysDir);
writeFileSync(join(keysDir, "rsa.pem"), rsa.privateKey.export({ type: "pkcs8", format: "pem" }));
writeFileSync(join(keysDir, "rsa-pkcs1.pem"), rsa.privateKey.export({ type: "pkcs1", format: "pem" }));
writeFileSync(join(keysDir, "rsa-public.pem"), rsa.publicKey.export({ type: "spki", format: "pem" }));
writeFileSync(join(keysDir, "rsa-noext"), rsa.privateKey.export({ type: "pkcs8", format: "pem" }));
writeFileSync(join(keysDir, "ec.pem"), ec.privateKey.export({ type: "sec1", format: "pem" }));
writeFileSync(join(keysDir, "ec-public.pem"), ec.publicKey.export({ type: "spki", format: "pem" }));
writeFileSync(join(keysDir, "ec384.json"), JSON.stringify(ec384.privateKey.export({ format: "jwk" })));
writeFileSync(join(keysDir, "ec521.pem"), ec521.privateKey.export({ type: "pkcs8", format: "pem" }));
writeFileSync(join(keysDir, "ed.json"), JSON.stringify(ed.privateKey.export({ format: "jwk" })));
writeFileSync(join(keysDir, "aes256"), aes256);
writeFileSync(join(keysDir, "aes128.txt"), aes128.toString("base64") + "\n");
writeFileSync(join(keysDir, "enc-only.json"), JSON.stringify({ ...rsa.privateKey.export({ format: "jwk" }), use: "enc" }));
writeFileSync(join(keysDir, "gcm-only.json"), JSON.stringify({ kty: "oct", k: aes256.toString("base64url"), alg: "A256GCM" }));

const jwk = (key: KeyObject, kid: string, extra: Record<string, unknown> = {}) => ({ ...key.export({ format: "jwk" }), kid, ...extra });
const jwks = (extraKeys: object[] = []) =>
  JSON.stringify({
    keys: [
      jwk(rsa.privateKey, "rsa.pem"), jwk(rsa.privateKey, "rsa-pkcs1.pem"), jwk(rsa.publicKey, "rsa-public.pem"), jwk(rsa.privateKey, "rsa-noext"),
      jwk(ec.privateKey, "ec.pem"), jwk(ec.publicKey, "ec-public.pem"), jwk(ec384.privateKey, "ec384.json"), jwk(ec521.privateKey, "ec521.pem"),
      jwk(ed.privateKey, "ed.json"),
      { kty: "oct", k: aes256.toString("base64url"), kid: "aes256" }, { kty: "oct", k: aes128.toString("base64url"), kid: "aes128.txt" },
      jwk(rsa.privateKey, "enc-only.json", { use: "enc" }), { kty: "oct", k: aes256.toString("base64url"), kid: "gcm-only.json", alg: "A256GCM" },
      ...extraKeys,
    ],
  });
const jwksFile = join(scratch, "jwks.json");
writeFileSync(jwksFile, jwks());

let served = jwks();
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(served, { headers: { "content-type": "application/json" } }) });
servers.push(server);

async function create(plugin: ComponentPlugin<any, any>, raw: Record<string, string>): Promise<SubtleCrypto> {
  const c = (await plugin.create(parseMetadata(plugin.metadata, raw), { name: "conformance", appId: "conformance", dataDir: scratch, logger: silentLogger })) as SubtleCrypto;
  created.push(c);
  return c;
}

const variants: [string, () => Promise<SubtleCrypto>][] = [
  ["crypto.dapr.localstorage", () => create(cryptoLocalstorage, { path: keysDir })],
  ["crypto.dapr.jwks (inline JSON)", () => create(cryptoJwks, { jwks: jwks() })],
  ["crypto.dapr.jwks (inline base64)", () => create(cryptoJwks, { jwks: Buffer.from(jwks()).toString("base64") })],
  ["crypto.dapr.jwks (file)", () => create(cryptoJwks, { jwks: jwksFile })],
  ["crypto.dapr.jwks (URL)", () => create(cryptoJwks, { jwks: `http://127.0.0.1:${server.port}/jwks.json` })],
];

async function refused(p: Promise<unknown>, type: Function) {
  let error: unknown;
  try {
    await p;
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(type);
}

test("both plugins are built in", () => {
  const types = builtinPlugins.map((p) => p.type);
  expect(types).toContain("crypto.dapr.localstorage");
  expect(types).toContain("crypto.dapr.jwks");
});

for (const [name, make] of variants) {
  describe(name, () => {
    let c: SubtleCrypto;
    const digest = createHash("sha256").update("the message").digest();

    test("create", async () => {
      c = await make();
    });

    test("getKey: the public part of asymmetric keys in every format; none for symmetric keys; missing keys refused", async () => {
      const expected = rsa.publicKey.export({ type: "spki", format: "der" });
      for (const k of ["rsa.pem", "rsa-pkcs1.pem", "rsa-public.pem", "rsa-noext"]) {
        const pub = await c.getKey(k);
        expect(pub?.type).toBe("public");
        expect(pub!.export({ type: "spki", format: "der" }).equals(expected)).toBe(true);
      }
      expect((await c.getKey("ec.pem"))?.asymmetricKeyType).toBe("ec");
      expect((await c.getKey("ed.json"))?.asymmetricKeyType).toBe("ed25519");
      expect(await c.getKey("aes256")).toBeUndefined();
      await refused(c.getKey("no-such-key"), CryptoKeyNotFoundError);
    });

    test("wrapKey / unwrapKey: A256KW, A128KW, A256CBC-NOPAD, RSA-OAEP-256", async () => {
      const fileKey = randomBytes(32);
      for (const [algorithm, keyName, nonce] of [["A256KW", "aes256"], ["A128KW", "aes128.txt"], ["A256CBC-NOPAD", "aes256", randomBytes(16)], ["RSA-OAEP-256", "rsa.pem"]] as const) {
        const { wrappedKey } = await c.wrapKey({ plaintextKey: fileKey, algorithm, keyName, nonce });
        expect(Buffer.from(wrappedKey).equals(fileKey)).toBe(false);
        const back = await c.unwrapKey({ wrappedKey, algorithm, keyName, nonce });
        expect(Buffer.from(back).equals(fileKey)).toBe(true);
      }
    });

    test("encrypt / decrypt: AEADs with associated data, CBC, CBC-HMAC, RSA-OAEP; a tampered tag is refused", async () => {
      const plaintext = Buffer.from("attack at dawn");
      const aad = Buffer.from("header");
      const cases = [
        ["A256GCM", "aes256", randomBytes(12)], ["A128GCM", "aes128.txt", randomBytes(12)], ["C20P", "aes256", randomBytes(12)],
        ["XC20P", "aes256", randomBytes(24)], ["A128CBC-HS256", "aes256", randomBytes(16)], ["A256CBC", "aes256", randomBytes(16)],
        ["RSA-OAEP", "rsa.pem", undefined], ["RSA-OAEP-512", "rsa-pkcs1.pem", undefined],
      ] as const;
      for (const [algorithm, keyName, nonce] of cases) {
        const { ciphertext, tag } = await c.encrypt({ plaintext, algorithm, keyName, nonce, associatedData: aad });
        const back = await c.decrypt({ ciphertext, algorithm, keyName, nonce, tag, associatedData: aad });
        expect(Buffer.from(back).toString()).toBe("attack at dawn");
        if (tag) {
          const bad = Buffer.from(tag);
          bad[0] ^= 1;
          await refused(c.decrypt({ ciphertext, algorithm, keyName, nonce, tag: bad, associatedData: aad }), CryptoOperationError);
          await refused(c.decrypt({ ciphertext, algorithm, keyName, nonce, tag, associatedData: Buffer.from("other") }), CryptoOperationError);
        }
      }
    });

    test("sign / verify: RS256, PS256 and EdDSA, checked by node:crypto; a changed digest does not verify", async () => {
      const other = createHash("sha256").update("another message").digest();
      const rs = await c.sign({ digest, algorithm: "RS256", keyName: "rsa.pem" });
      expect(nodeVerify("sha256", Buffer.from("the message"), rsa.publicKey, rs)).toBe(true);
      const ps = await c.sign({ digest, algorithm: "PS256", keyName: "rsa.pem" });
      expect(nodeVerify("sha256", Buffer.from("the message"), { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, ps)).toBe(true);
      const eds = await c.sign({ digest, algorithm: "EdDSA", keyName: "ed.json" });
      for (const [algorithm, keyName, signature] of [["RS256", "rsa-public.pem", rs], ["PS256", "rsa-public.pem", ps], ["EdDSA", "ed.json", eds]] as const) {
        expect(await c.verify({ digest, signature, algorithm, keyName })).toBe(true);
        expect(await c.verify({ digest: other, signature, algorithm, keyName })).toBe(false);
      }
    });

    test("sign / verify: ES256, ES384, ES512 over the digest, as r || s, both ways with node:crypto; Go's shorter r || s verifies", async () => {
      const message = Buffer.from("the message");
      const cases = [["ES256", "sha256", ec, "ec.pem", 32], ["ES384", "sha384", ec384, "ec384.json", 48], ["ES512", "sha512", ec521, "ec521.pem", 66]] as const;
      for (const [algorithm, hash, pair, keyName, size] of cases) {
        const d = createHash(hash).update(message).digest();
        const signature = await c.sign({ digest: d, algorithm, keyName });
        expect(signature.length).toBe(2 * size);
        expect(nodeVerify(hash, message, { key: pair.publicKey, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
        const theirs = nodeSign(hash, message, { key: pair.privateKey, dsaEncoding: "ieee-p1363" });
        expect(await c.verify({ digest: d, signature: theirs, algorithm, keyName })).toBe(true);
        expect(await c.verify({ digest: createHash(hash).update("another message").digest(), signature: theirs, algorithm, keyName })).toBe(false);
        const altered = Buffer.from(theirs);
        altered[size] ^= 1;
        expect(await c.verify({ digest: d, signature: altered, algorithm, keyName })).toBe(false);
        expect(await c.verify({ digest: d, signature: theirs.subarray(0, size), algorithm, keyName })).toBe(false);
      }
      const d = createHash("sha256").update(message).digest();
      expect(await c.verify({ digest: d, signature: await c.sign({ digest: d, algorithm: "ES256", keyName: "ec.pem" }), algorithm: "ES256", keyName: "ec-public.pem" })).toBe(true);
      // dapr/kit concatenates r and s without their leading zero bytes: find a signature whose r has one (1 in 256).
      for (let i = 0; i < 20_000; i++) {
        const sig = nodeSign("sha256", message, { key: ec.privateKey, dsaEncoding: "ieee-p1363" });
        if (sig[0] !== 0 || sig[32] === 0) continue;
        expect(await c.verify({ digest: d, signature: sig.subarray(1), algorithm: "ES256", keyName: "ec-public.pem" })).toBe(true);
        break;
      }
      await refused(c.sign({ digest: d, algorithm: "ES256", keyName: "ec-public.pem" }), CryptoOperationError);
      await refused(c.sign({ digest: d, algorithm: "ES256", keyName: "rsa.pem" }), CryptoOperationError);
      await refused(c.verify({ digest: d, signature: randomBytes(64), algorithm: "ES256", keyName: "ed.json" }), CryptoOperationError);
    });

    test("refusals: unknown algorithm, wrong key type, a key's use or alg, a bad nonce, a digest of the wrong size", async () => {
      await refused(c.encrypt({ plaintext: new Uint8Array(4), algorithm: "ROT13", keyName: "aes256" }), CryptoOperationError);
      await refused(c.encrypt({ plaintext: new Uint8Array(4), algorithm: "A256GCM", keyName: "rsa.pem", nonce: randomBytes(12) }), CryptoOperationError);
      await refused(c.encrypt({ plaintext: new Uint8Array(4), algorithm: "A256GCM", keyName: "aes256", nonce: randomBytes(5) }), CryptoOperationError);
      await refused(c.wrapKey({ plaintextKey: randomBytes(32), algorithm: "A256KW", keyName: "aes128.txt" }), CryptoOperationError);
      await refused(c.sign({ digest, algorithm: "RS256", keyName: "enc-only.json" }), CryptoOperationError);
      await refused(c.sign({ digest, algorithm: "RS256", keyName: "rsa-public.pem" }), CryptoOperationError);
      await refused(c.sign({ digest: digest.subarray(1), algorithm: "RS256", keyName: "rsa.pem" }), CryptoOperationError);
      await refused(c.wrapKey({ plaintextKey: randomBytes(32), algorithm: "A256KW", keyName: "gcm-only.json" }), CryptoOperationError);
      await refused(c.unwrapKey({ wrappedKey: randomBytes(40), algorithm: "A256KW", keyName: "aes256" }), CryptoOperationError);
      await refused(c.sign({ digest, algorithm: "RS256", keyName: "no-such-key" }), CryptoKeyNotFoundError);
    });

    test("dapr.io/enc/v1 with the file key wrapped by the plugin (A256KW, RSA-OAEP-256)", async () => {
      const data = randomBytes(200_000);
      for (const [algorithm, keyName] of [["AES", "aes256"], ["RSA", "rsa.pem"]]) {
        const ct = await encrypt(new Blob([data]).stream(), {
          keyName, algorithm,
          wrapKey: async (plaintextKey, alg, key) => (await c.wrapKey({ plaintextKey, algorithm: alg, keyName: key })).wrappedKey,
        });
        const pt = await decrypt(ct, { unwrapKey: (wrappedKey, alg, key) => c.unwrapKey({ wrappedKey, algorithm: alg, keyName: key }) });
        expect(Buffer.from(await new Response(pt).arrayBuffer()).equals(data)).toBe(true);
      }
    });
  });
}

describe("crypto.dapr.localstorage", () => {
  test("a key name with '..' is refused; a path that is no folder fails the component", async () => {
    const c = await create(cryptoLocalstorage, { path: keysDir });
    await refused(c.getKey("../keys/rsa.pem"), CryptoOperationError);
    await expect(create(cryptoLocalstorage, { path: join(keysDir, "aes256") })).rejects.toThrow(/not a directory/);
    await expect(create(cryptoLocalstorage, { path: join(scratch, "missing") })).rejects.toThrow(/could not stat/);
  });
});

describe("crypto.dapr.jwks", () => {
  test("a key missing from a URL's set is fetched again once minRefreshInterval has passed", async () => {
    const c = await create(cryptoJwks, { jwks: `http://127.0.0.1:${server.port}/`, minRefreshInterval: "1s" });
    await refused(c.getKey("late"), CryptoKeyNotFoundError);
    served = jwks([jwk(ec.publicKey, "late")]);
    await Bun.sleep(1100);
    expect((await c.getKey("late"))?.asymmetricKeyType).toBe("ec");
  });
  test("a malformed set fails the component", async () => {
    await expect(create(cryptoJwks, { jwks: '{"keys": [{"kty": "RSA"}]}' })).rejects.toThrow(/invalid JWKS/);
    await expect(create(cryptoJwks, { jwks: "not json at all!" })).rejects.toThrow();
  });
});
