// The JWA algorithms of Dapr's subtle crypto API over keys the runtime holds, as dapr/kit's crypto package implements
// them. Signatures take a digest (EdDSA: the message), so RSA signing works on the digest directly.
import {
  constants, createCipheriv, createDecipheriv, createHash, createHmac, createPublicKey, privateDecrypt, privateEncrypt,
  publicDecrypt, publicEncrypt, randomBytes, sign as nodeSign, timingSafeEqual, verify as nodeVerify, type KeyObject,
} from "node:crypto";
import { CryptoOperationError } from "../contracts/crypto.js";
import { aeadOpen, aeadSeal, AEAD_TAG_LENGTH, AeadArgumentError, type AeadCipher } from "./aead.js";
import { aesKeyUnwrap, aesKeyWrap } from "./aes-kw.js";
import { ecdsaSign, ecdsaVerify } from "./ecdsa.js";

export const SYMMETRIC_ALGORITHMS = [
  "A128CBC", "A192CBC", "A256CBC", "A128CBC-NOPAD", "A192CBC-NOPAD", "A256CBC-NOPAD", "A128GCM", "A192GCM", "A256GCM",
  "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128KW", "A192KW", "A256KW", "C20P", "C20PKW", "XC20P", "XC20PKW",
];
/** RSA1_5 is left out: Bun refuses PKCS#1 v1.5 decryption (the Marvin attack). */
export const ASYMMETRIC_ALGORITHMS = ["RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"];
export const SIGNATURE_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

const mismatch = () => new CryptoOperationError("key type mismatch");
const unsupported = (alg: string) => new CryptoOperationError(`unsupported algorithm: ${alg}`);
const bytes = (b: Uint8Array | Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);
const EMPTY = new Uint8Array(0);

function secretOf(key: KeyObject, length?: number): Buffer {
  if (key.type !== "secret") throw mismatch();
  const raw = key.export();
  if (length !== undefined && raw.length !== length) throw mismatch();
  return raw;
}
const aesBits = (alg: string) => Number(alg.slice(1, 4)) / 8;
const shaOf = (alg: string) => `sha${alg.slice(-3)}` as "sha256" | "sha384" | "sha512";

interface Sealed {
  ciphertext: Uint8Array;
  tag?: Uint8Array;
}

function withAead<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AeadArgumentError) throw new CryptoOperationError(err.message);
    throw err;
  }
}

const chachaOf = (alg: string): AeadCipher => (alg.startsWith("X") ? "xchacha20-poly1305" : "chacha20-poly1305");

/** RFC 7518 §5.2: MAC key || ENC key; tag = HMAC(AAD || IV || ciphertext || bit length of AAD), truncated. */
function cbcHmacParts(alg: string, key: KeyObject) {
  const size = { "A128CBC-HS256": 16, "A192CBC-HS384": 24, "A256CBC-HS512": 32 }[alg]!;
  const raw = secretOf(key, size * 2);
  const macKey = raw.subarray(0, size), encKey = raw.subarray(size);
  const tagOf = (iv: Uint8Array, ct: Uint8Array, aad: Uint8Array) => {
    const al = Buffer.alloc(8);
    al.writeBigUInt64BE(BigInt(aad.length) * 8n);
    return createHmac(shaOf(alg), macKey).update(aad).update(iv).update(ct).update(al).digest().subarray(0, size);
  };
  return { encKey, tagOf, cipher: `aes-${size * 8}-cbc` as "aes-256-cbc" };
}

function aesCbc(alg: string, key: KeyObject, iv: Uint8Array | undefined, data: Uint8Array, decrypt: boolean): Uint8Array {
  const raw = secretOf(key, aesBits(alg));
  if (iv?.length !== 16) throw new CryptoOperationError("invalid nonce");
  const noPad = alg.endsWith("-NOPAD");
  if ((noPad || decrypt) && data.length % 16 !== 0) throw new CryptoOperationError(decrypt ? "invalid ciphertext length" : "invalid plaintext length");
  const c = decrypt ? createDecipheriv(`aes-${raw.length * 8}-cbc` as "aes-256-cbc", raw, iv) : createCipheriv(`aes-${raw.length * 8}-cbc` as "aes-256-cbc", raw, iv);
  c.setAutoPadding(!noPad);
  try {
    return bytes(Buffer.concat([c.update(data), c.final()]));
  } catch (err) {
    throw new CryptoOperationError("failed to decrypt data", { cause: err });
  }
}

export function encrypt(alg: string, key: KeyObject, plaintext: Uint8Array, nonce?: Uint8Array, aad?: Uint8Array): Sealed {
  if (/^A(128|192|256)CBC(-NOPAD)?$/.test(alg)) return { ciphertext: aesCbc(alg, key, nonce, plaintext, false) };
  if (/^A(128|192|256)GCM$/.test(alg)) {
    const sealed = withAead(() => aeadSeal("aes-gcm", secretOf(key, aesBits(alg)), nonce ?? EMPTY, plaintext, aad));
    return { ciphertext: sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH), tag: sealed.subarray(sealed.length - AEAD_TAG_LENGTH) };
  }
  if (/^A(128|192|256)CBC-HS(256|384|512)$/.test(alg)) {
    const { encKey, tagOf, cipher } = cbcHmacParts(alg, key);
    if (nonce?.length !== 16) throw new CryptoOperationError("invalid nonce");
    const c = createCipheriv(cipher, encKey, nonce);
    const ciphertext = bytes(Buffer.concat([c.update(plaintext), c.final()]));
    return { ciphertext, tag: bytes(tagOf(nonce, ciphertext, aad ?? EMPTY)) };
  }
  if (/^A(128|192|256)KW$/.test(alg)) return { ciphertext: aesKeyWrap(secretOf(key, aesBits(alg)), plaintext) };
  if (/^X?C20P(KW)?$/.test(alg)) {
    const sealed = withAead(() => aeadSeal(chachaOf(alg), secretOf(key, 32), nonce ?? EMPTY, plaintext, aad));
    return { ciphertext: sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH), tag: sealed.subarray(sealed.length - AEAD_TAG_LENGTH) };
  }
  if (ASYMMETRIC_ALGORITHMS.includes(alg)) {
    if (key.asymmetricKeyType !== "rsa") throw mismatch();
    const pub = key.type === "private" ? createPublicKey(key) : key;
    return { ciphertext: bytes(publicEncrypt(rsaOaep(alg, pub, aad), plaintext)) };
  }
  throw unsupported(alg);
}

export function decrypt(alg: string, key: KeyObject, ciphertext: Uint8Array, nonce?: Uint8Array, tag?: Uint8Array, aad?: Uint8Array): Uint8Array {
  const failed = () => new CryptoOperationError("failed to decrypt data");
  const openAead = (cipher: AeadCipher, raw: Buffer) => {
    if (tag?.length !== AEAD_TAG_LENGTH) throw new CryptoOperationError("invalid tag");
    const sealed = new Uint8Array(ciphertext.length + tag.length);
    sealed.set(ciphertext, 0);
    sealed.set(tag, ciphertext.length);
    const out = withAead(() => aeadOpen(cipher, raw, nonce ?? EMPTY, sealed, aad));
    if (!out) throw failed();
    return out;
  };
  if (/^A(128|192|256)CBC(-NOPAD)?$/.test(alg)) return aesCbc(alg, key, nonce, ciphertext, true);
  if (/^A(128|192|256)GCM$/.test(alg)) return openAead("aes-gcm", secretOf(key, aesBits(alg)));
  if (/^A(128|192|256)CBC-HS(256|384|512)$/.test(alg)) {
    const { encKey, tagOf, cipher } = cbcHmacParts(alg, key);
    if (nonce?.length !== 16) throw new CryptoOperationError("invalid nonce");
    const expected = tagOf(nonce, ciphertext, aad ?? EMPTY);
    if (tag?.length !== expected.length) throw new CryptoOperationError("invalid tag");
    if (!timingSafeEqual(expected, tag)) throw failed();
    const d = createDecipheriv(cipher, encKey, nonce);
    try {
      return bytes(Buffer.concat([d.update(ciphertext), d.final()]));
    } catch {
      throw failed();
    }
  }
  if (/^A(128|192|256)KW$/.test(alg)) return aesKeyUnwrap(secretOf(key, aesBits(alg)), ciphertext);
  if (/^X?C20P(KW)?$/.test(alg)) return openAead(chachaOf(alg), secretOf(key, 32));
  if (ASYMMETRIC_ALGORITHMS.includes(alg)) {
    if (key.asymmetricKeyType !== "rsa" || key.type !== "private") throw mismatch();
    try {
      return bytes(privateDecrypt(rsaOaep(alg, key, aad), ciphertext));
    } catch (err) {
      throw new CryptoOperationError("failed to decrypt data", { cause: err });
    }
  }
  throw unsupported(alg);
}

function rsaOaep(alg: string, key: KeyObject, label?: Uint8Array) {
  const oaepHash = alg === "RSA-OAEP" ? "sha1" : shaOf(alg);
  return { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash, ...(label?.length ? { oaepLabel: label } : {}) };
}

// ---- signatures ----

/** DER DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2). */
const DIGEST_INFO: Record<string, string> = {
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
};
const HASH_LENGTH = { sha256: 32, sha384: 48, sha512: 64 };

function rsaKeyFor(key: KeyObject, privateNeeded: boolean) {
  if (key.asymmetricKeyType !== "rsa" || (privateNeeded && key.type !== "private")) throw mismatch();
  return key.type === "private" && !privateNeeded ? createPublicKey(key) : key;
}

function checkDigest(hash: keyof typeof HASH_LENGTH, digest: Uint8Array) {
  if (digest.length !== HASH_LENGTH[hash]) throw new CryptoOperationError("input must be hashed message");
}

const modulusBytes = (key: KeyObject) => Math.ceil(Number(key.asymmetricKeyDetails!.modulusLength) / 8);

function mgf1(hash: string, seed: Uint8Array, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let counter = 0, have = 0; have < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    parts.push(block);
    have += block.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** EMSA-PSS encoding (RFC 8017 §9.1.1) with the largest salt, as Go's rsa.SignPSS without options. */
function pssEncode(hash: keyof typeof HASH_LENGTH, digest: Uint8Array, emBits: number): Buffer {
  const hLen = HASH_LENGTH[hash];
  const emLen = Math.ceil(emBits / 8);
  const sLen = emLen - hLen - 2;
  const salt = randomBytes(sLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - sLen - hLen - 2), Buffer.from([1]), salt]);
  const masked = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) masked[i] ^= db[i];
  masked[0] &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([masked, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS verification with any salt length, as Go's rsa.VerifyPSS without options. */
function pssVerify(hash: keyof typeof HASH_LENGTH, digest: Uint8Array, em: Buffer, emBits: number): boolean {
  const hLen = HASH_LENGTH[hash];
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((db[0] & ~topMask) !== 0) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= topMask;
  const one = db.indexOf(1);
  if (one < 0 || db.subarray(0, one).some((b) => b !== 0)) return false;
  const salt = db.subarray(one + 1);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

export function sign(alg: string, key: KeyObject, digest: Uint8Array): Uint8Array {
  if (/^RS(256|384|512)$/.test(alg)) {
    const hash = shaOf(alg);
    checkDigest(hash, digest);
    const k = rsaKeyFor(key, true);
    return bytes(privateEncrypt({ key: k, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), digest])));
  }
  if (/^PS(256|384|512)$/.test(alg)) {
    const hash = shaOf(alg);
    checkDigest(hash, digest);
    const k = rsaKeyFor(key, true);
    const bits = Number(k.asymmetricKeyDetails!.modulusLength);
    const em = pssEncode(hash, digest, bits - 1);
    const padded = Buffer.concat([Buffer.alloc(modulusBytes(k) - em.length), em]);
    return bytes(privateDecrypt({ key: k, padding: constants.RSA_NO_PADDING }, padded));
  }
  if (/^ES(256|384|512)$/.test(alg)) return ecdsaSign(key, digest);
  if (alg === "EdDSA") {
    if (key.asymmetricKeyType !== "ed25519" || key.type !== "private") throw mismatch();
    return bytes(nodeSign(null, digest, key));
  }
  throw unsupported(alg);
}

export function verify(alg: string, key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) {
    const hash = shaOf(alg);
    const k = rsaKeyFor(key, false);
    if (signature.length !== modulusBytes(k)) return false;
    if (alg.startsWith("RS")) {
      let decoded: Buffer;
      try {
        decoded = publicDecrypt({ key: k, padding: constants.RSA_PKCS1_PADDING }, signature);
      } catch {
        return false;
      }
      const expected = Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), digest]);
      return decoded.length === expected.length && timingSafeEqual(decoded, expected);
    }
    let em: Buffer;
    try {
      em = publicEncrypt({ key: k, padding: constants.RSA_NO_PADDING }, signature);
    } catch {
      return false;
    }
    const emBits = Number(k.asymmetricKeyDetails!.modulusLength) - 1;
    return pssVerify(hash, digest, em.subarray(em.length - Math.ceil(emBits / 8)), emBits);
  }
  if (/^ES(256|384|512)$/.test(alg)) return ecdsaVerify(key, digest, signature);
  if (alg === "EdDSA") {
    if (key.asymmetricKeyType !== "ed25519") throw mismatch();
    return nodeVerify(null, digest, key.type === "private" ? createPublicKey(key) : key, signature);
  }
  throw unsupported(alg);
}
