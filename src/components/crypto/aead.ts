// The AEAD ciphers the crypto building block needs: AES-GCM (node:crypto) and ChaCha20-Poly1305 / XChaCha20-Poly1305
// (libsodium through sodium-native: Bun's node:crypto has no chacha20-poly1305). Sealed output is ciphertext || 16-byte tag.
import { createCipheriv, createDecipheriv } from "node:crypto";
import sodium from "sodium-native";

export type AeadCipher = "aes-gcm" | "chacha20-poly1305" | "xchacha20-poly1305";

export const AEAD_TAG_LENGTH = 16;

const NONCE_LENGTH: Record<AeadCipher, number> = { "aes-gcm": 12, "chacha20-poly1305": 12, "xchacha20-poly1305": 24 };

export class AeadArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AeadArgumentError";
  }
}

function check(cipher: AeadCipher, key: Uint8Array, nonce: Uint8Array) {
  const keyOk = cipher === "aes-gcm" ? [16, 24, 32].includes(key.length) : key.length === 32;
  if (!keyOk) throw new AeadArgumentError(`${cipher}: invalid key length ${key.length}`);
  if (nonce.length !== NONCE_LENGTH[cipher]) throw new AeadArgumentError(`${cipher}: nonce must be ${NONCE_LENGTH[cipher]} bytes, got ${nonce.length}`);
}

const gcmName = (key: Uint8Array) => `aes-${key.length * 8}-gcm` as "aes-256-gcm";

/** Encrypts and authenticates: returns ciphertext || tag. */
export function aeadSeal(cipher: AeadCipher, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  check(cipher, key, nonce);
  if (cipher === "aes-gcm") {
    const c = createCipheriv(gcmName(key), key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    if (aad?.length) c.setAAD(aad);
    const body = c.update(plaintext);
    const rest = c.final();
    const out = new Uint8Array(body.length + rest.length + AEAD_TAG_LENGTH);
    out.set(body, 0);
    out.set(rest, body.length);
    out.set(c.getAuthTag(), body.length + rest.length);
    return out;
  }
  const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
  const seal = cipher === "chacha20-poly1305" ? sodium.crypto_aead_chacha20poly1305_ietf_encrypt : sodium.crypto_aead_xchacha20poly1305_ietf_encrypt;
  seal(out, plaintext, aad?.length ? aad : null, null, nonce, key);
  return out;
}

/** Verifies and decrypts ciphertext || tag; undefined when the tag does not match (tampered data, wrong key or nonce). */
export function aeadOpen(cipher: AeadCipher, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | undefined {
  check(cipher, key, nonce);
  if (sealed.length < AEAD_TAG_LENGTH) return undefined;
  const bodyLength = sealed.length - AEAD_TAG_LENGTH;
  if (cipher === "aes-gcm") {
    const d = createDecipheriv(gcmName(key), key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    if (aad?.length) d.setAAD(aad);
    d.setAuthTag(sealed.subarray(bodyLength));
    const out = new Uint8Array(bodyLength);
    const body = d.update(sealed.subarray(0, bodyLength));
    out.set(body, 0);
    try {
      out.set(d.final(), body.length);
    } catch {
      out.fill(0);
      return undefined;
    }
    return out;
  }
  const out = new Uint8Array(bodyLength);
  const open = cipher === "chacha20-poly1305" ? sodium.crypto_aead_chacha20poly1305_ietf_decrypt : sodium.crypto_aead_xchacha20poly1305_ietf_decrypt;
  try {
    open(out, null, sealed, aad?.length ? aad : null, nonce, key);
  } catch {
    return undefined;
  }
  return out;
}
