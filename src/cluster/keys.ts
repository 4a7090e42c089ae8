import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

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

export function deriveClusterKeys(name: string, secret: string): ClusterKeys {
  const derive = (label: string) =>
    Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.from(`rapr-cluster:${name}`, "utf8"), label, 32));
  const topicKey = derive("topic");
  return {
    topic: createHash("sha256").update(topicKey).digest(),
    sealKey: derive("seal"),
    proofKey: derive("proof"),
  };
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
