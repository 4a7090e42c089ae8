import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { secretWeakness } from "../security/secret-strength.js";

/**
 * Everything a cluster derives from its name and secret. The secret itself never leaves the process:
 * the DHT topic is a hash of a derived key, gossip is sealed with another, and swarm peers prove
 * possession with an HMAC over their Noise handshake hash.
 */
export interface ClusterKeys {
  topic: Buffer;
  sealKey: Buffer;
  proofKey: Buffer;
}

/**
 * The topic is public on the DHT and anyone may check a guess of (name, secret) against it offline, so
 * every key comes from scrypt salted with the cluster name: 64 MiB and about a quarter second per guess.
 */
export const CLUSTER_SCRYPT: ScryptOptions = { N: 1 << 16, r: 8, p: 1, maxmem: 128 * 1024 * 1024 };
export const CLUSTER_KDF_SALT_PREFIX = "rapr-cluster-v2:";

export async function deriveClusterKeys(name: string, secret: string): Promise<ClusterKeys> {
  const weakness = clusterSecretWeakness(secret);
  if (weakness) throw new Error(weakness);
  const master = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret.normalize("NFC"), CLUSTER_KDF_SALT_PREFIX + name, 32, CLUSTER_SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
  const derive = (label: string) => Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), label, 32));
  return {
    topic: createHash("sha256").update(derive("topic")).digest(),
    sealKey: derive("seal"),
    proofKey: derive("proof"),
  };
}

/** Why `secret` is too weak to guard a cluster, or undefined. */
export function clusterSecretWeakness(secret: string): string | undefined {
  const weakness = secretWeakness(secret);
  if (!weakness) return undefined;
  return (
    `the cluster secret is ${weakness}: anyone who sees the cluster's topic on the DHT can guess a weak secret ` +
    `offline. Make one with: rapr cluster-secret`
  );
}

/** 256 random bits, base64url: what `rapr cluster-secret` prints. */
export function newClusterSecret(): string {
  return randomBytes(32).toString("base64url");
}

const NONCE = 12;
const TAG = 16;

/** AES-256-GCM: nonce | ciphertext | tag. Only holders of the cluster secret can read or forge gossip. */
export function seal(key: Buffer, plaintext: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Returns null for anything not sealed with `key`. */
export function open(key: Buffer, sealed: Uint8Array): Buffer | null {
  if (sealed.byteLength < NONCE + TAG) return null;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, buf.subarray(0, NONCE));
    decipher.setAuthTag(buf.subarray(buf.length - TAG));
    return Buffer.concat([decipher.update(buf.subarray(NONCE, buf.length - TAG)), decipher.final()]);
  } catch {
    return null;
  }
}

/** What one side of a swarm connection sends to prove it holds the secret; bound to this handshake and role. */
export function admissionProof(proofKey: Buffer, handshakeHash: Uint8Array, initiator: boolean): Buffer {
  return createHmac("sha256", proofKey).update(handshakeHash).update(initiator ? "initiator" : "responder").digest();
}

export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.byteLength === expected.byteLength && timingSafeEqual(expected, got);
}
