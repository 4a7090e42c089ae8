// AES Key Wrap (RFC 3394) with the default IV, over AES-ECB single-block operations.
import { createCipheriv, createDecipheriv, timingSafeEqual } from "node:crypto";
import { CryptoOperationError } from "../contracts/crypto.js";

const IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");
const ecb = (key: Uint8Array) => `aes-${key.length * 8}-ecb` as "aes-256-ecb";

function blockCipher(key: Uint8Array, decrypt: boolean) {
  const c = decrypt ? createDecipheriv(ecb(key), key, null) : createCipheriv(ecb(key), key, null);
  c.setAutoPadding(false);
  return (block: Buffer) => c.update(block);
}

function xorCounter(a: Buffer, t: number) {
  for (let i = 7, v = t; i >= 0 && v > 0; i--, v = Math.floor(v / 256)) a[i] ^= v & 0xff;
}

export function aesKeyWrap(kek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (plaintext.length < 16 || plaintext.length % 8 !== 0) throw new CryptoOperationError("invalid plaintext length");
  const n = plaintext.length / 8;
  const enc = blockCipher(kek, false);
  const a = Buffer.from(IV);
  const r = Buffer.from(plaintext);
  for (let j = 0; j < 6; j++) {
    for (let i = 0; i < n; i++) {
      const b = enc(Buffer.concat([a, r.subarray(i * 8, i * 8 + 8)]));
      b.copy(a, 0, 0, 8);
      xorCounter(a, n * j + i + 1);
      b.copy(r, i * 8, 8, 16);
    }
  }
  return new Uint8Array(Buffer.concat([a, r]));
}

export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) throw new CryptoOperationError("invalid ciphertext length");
  const n = wrapped.length / 8 - 1;
  const dec = blockCipher(kek, true);
  const a = Buffer.from(wrapped.subarray(0, 8));
  const r = Buffer.from(wrapped.subarray(8));
  for (let j = 5; j >= 0; j--) {
    for (let i = n - 1; i >= 0; i--) {
      xorCounter(a, n * j + i + 1);
      const b = dec(Buffer.concat([a, r.subarray(i * 8, i * 8 + 8)]));
      b.copy(a, 0, 0, 8);
      b.copy(r, i * 8, 8, 16);
    }
  }
  if (!timingSafeEqual(a, IV)) throw new CryptoOperationError("failed to unwrap key");
  return new Uint8Array(r);
}
