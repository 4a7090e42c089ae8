// ES256/384/512 over a precomputed digest, as dapr/kit's crypto package does with Go's ecdsa.Sign/Verify: the digest
// is used as it is (truncated to the curve order's bit length when longer) and the curve is the key's, whatever the
// algorithm's number says. node:crypto and Web Crypto both hash the input themselves, hence @noble/curves.
// Signatures are JWS's fixed-length r || s (RFC 7518 §3.4); node:crypto's dsaEncoding "ieee-p1363" is the same.
import { createPublicKey, type KeyObject } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { CryptoOperationError } from "../contracts/crypto.js";

const CURVES = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;
type Curve = (typeof CURVES)[keyof typeof CURVES];

const SIGN_OPTIONS = { prehash: false, lowS: false, extraEntropy: true } as const;
const VERIFY_OPTIONS = { prehash: false, lowS: false } as const;

function ecJwk(key: KeyObject): { curve: Curve; size: number; d?: string; x: string; y: string } {
  if (key.asymmetricKeyType !== "ec") throw new CryptoOperationError("key type mismatch");
  const jwk = key.export({ format: "jwk" });
  const curve = CURVES[jwk.crv as keyof typeof CURVES];
  if (!curve) throw new CryptoOperationError(`unsupported curve: ${jwk.crv}`);
  return { curve, size: curve.lengths.secretKey!, d: jwk.d, x: jwk.x!, y: jwk.y! };
}

const fixed = (b64url: string, size: number) => {
  const raw = Buffer.from(b64url, "base64url");
  return Buffer.concat([Buffer.alloc(Math.max(0, size - raw.length)), raw]);
};

export function ecdsaSign(key: KeyObject, digest: Uint8Array): Uint8Array {
  if (key.type !== "private") throw new CryptoOperationError("key type mismatch");
  const { curve, size, d } = ecJwk(key);
  return curve.sign(digest, fixed(d!, size), SIGN_OPTIONS);
}

/**
 * r || s split in the middle, as Go's verifier does: besides the fixed-length form, this accepts the shorter
 * signatures dapr/kit itself produces (it concatenates r and s without their leading zero bytes).
 */
export function ecdsaVerify(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const { curve, size, x, y } = ecJwk(key.type === "private" ? createPublicKey(key) : key);
  const half = signature.length >> 1;
  if (half === 0 || half > size || signature.length - half > size) return false;
  const pad = (part: Uint8Array) => Buffer.concat([Buffer.alloc(size - part.length), part]);
  const compact = Buffer.concat([pad(signature.subarray(0, half)), pad(signature.subarray(half))]);
  const point = Buffer.concat([Buffer.from([4]), fixed(x, size), fixed(y, size)]);
  try {
    return curve.verify(compact, digest, point, VERIFY_OPTIONS);
  } catch {
    return false;
  }
}
