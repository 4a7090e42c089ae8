// Keys held by the runtime (crypto.dapr.localstorage, crypto.dapr.jwks): parsed from a JWK, PEM (PKCS#1, PKCS#8,
// SEC 1, PKIX, certificate) or raw symmetric bytes (optionally base64), as dapr/kit's crypto.ParseKey does.
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from "node:crypto";

/** A JSON Web Key as parsed from JSON (RFC 7517); its members are checked before use. */
export type Jwk = Record<string, unknown>;
import { CryptoOperationError } from "../contracts/crypto.js";

export interface LocalKey {
  key: KeyObject;
  /** The JWK's "alg": when set, the key serves that algorithm only. */
  alg?: string;
  /** The JWK's "use" ("enc" or "sig"). */
  use?: string;
  /** The JWK's "key_ops". */
  keyOps?: string[];
  kid?: string;
}

export type KeyOperation = "encrypt" | "decrypt" | "wrapKey" | "unwrapKey" | "sign" | "verify";

const KEY_TYPES = new Set(["RSA", "EC", "OKP", "oct"]);

export function keyFromJwk(jwk: Jwk): LocalKey {
  if (!jwk || typeof jwk !== "object" || !KEY_TYPES.has(jwk.kty as string)) throw new CryptoOperationError("invalid key type");
  let key: KeyObject;
  try {
    if (jwk.kty === "oct") {
      if (typeof jwk.k !== "string") throw new Error('missing "k"');
      key = createSecretKey(Buffer.from(jwk.k, "base64url"));
    } else {
      key = jwk.d !== undefined ? createPrivateKey({ key: jwk as never, format: "jwk" }) : createPublicKey({ key: jwk as never, format: "jwk" });
    }
  } catch (err) {
    throw new CryptoOperationError(`invalid JWK: ${(err as Error).message}`, { cause: err });
  }
  return {
    key,
    alg: typeof jwk.alg === "string" && jwk.alg ? jwk.alg : undefined,
    use: typeof jwk.use === "string" && jwk.use ? jwk.use : undefined,
    keyOps: Array.isArray(jwk.key_ops) ? jwk.key_ops.filter((o: unknown): o is string => typeof o === "string") : undefined,
    kid: typeof jwk.kid === "string" ? jwk.kid : undefined,
  };
}

function keyFromPem(raw: Uint8Array): LocalKey {
  const pem = Buffer.from(raw).toString("utf8");
  try {
    return { key: createPrivateKey(pem) };
  } catch {
    try {
      return { key: createPublicKey(pem) };
    } catch (err) {
      throw new CryptoOperationError(`invalid PEM key: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Standard then URL-safe base64 without padding, strictly (as Go's Raw*Encoding); undefined when neither. */
function decodeBase64Key(raw: Uint8Array): Buffer | undefined {
  const text = Buffer.from(raw).toString("latin1").replace(/[\n=]+$/, "");
  if (/^[A-Za-z0-9+/]*$/.test(text) && text.length % 4 !== 1) return Buffer.from(text, "base64");
  if (/^[A-Za-z0-9_-]*$/.test(text) && text.length % 4 !== 1) return Buffer.from(text, "base64url");
  return undefined;
}

/**
 * A key from a file's bytes. `format` comes from the file extension (".json" → JWK, ".pem" → PEM); without it the
 * format is guessed: "{" and not 16, 24 or 32 bytes long → JWK, "-----" → PEM, otherwise a symmetric key.
 */
export function parseKey(raw: Uint8Array, format?: "jwk" | "pem"): LocalKey {
  if (raw.length === 0) throw new CryptoOperationError("key is empty");
  const asJwk = () => {
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(raw).toString("utf8"));
    } catch (err) {
      throw new CryptoOperationError(`invalid JWK: ${(err as Error).message}`, { cause: err });
    }
    return keyFromJwk(doc as Jwk);
  };
  if (format === "jwk") return asJwk();
  if (format === "pem") return keyFromPem(raw);
  if (raw[0] === 0x7b && ![16, 24, 32].includes(raw.length)) return asJwk();
  if (raw.length > 10 && Buffer.from(raw.subarray(0, 5)).toString("latin1") === "-----") return keyFromPem(raw);
  return { key: createSecretKey(decodeBase64Key(raw) ?? Buffer.from(raw)) };
}

/** dapr/components-contrib's KeyCanPerformOperation: "key_ops" and "use", when present, must allow the operation. */
export function keyAllows(k: LocalKey, op: KeyOperation): boolean {
  if (k.keyOps?.length && !k.keyOps.includes(op)) return false;
  if (k.use) return ["sign", "verify"].includes(op) ? k.use === "sig" : k.use === "enc";
  return true;
}
