// The manifest: the header's second line, a compact JSON object {"k","kw","wfk","cph","np"}.
import {
  dataCipherById, DATA_CIPHERS, KEY_WRAP_ALGORITHMS, keyWrapAlgorithmById, NONCE_PREFIX_LENGTH,
  type DataCipher, type KeyWrapAlgorithm,
} from "./constants.js";

export interface Manifest {
  /** The key to decrypt with ("name" or "name/version"); optional. */
  keyName?: string;
  keyWrapAlgorithm: KeyWrapAlgorithm;
  wrappedFileKey: Uint8Array;
  cipher: DataCipher;
  noncePrefix: Uint8Array;
}

/** Go's encoding/json escapes these in strings; doing the same keeps our manifests byte-identical to daprd's. */
const GO_ESCAPES: Record<string, string> = { "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029" };
const goJsonString = (s: string) => JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64");

/** Field order and omission of an empty key name as Go's json.Marshal of dapr/kit's Manifest struct. */
export function encodeManifest(m: Manifest): string {
  const k = m.keyName ? `"k":${goJsonString(m.keyName)},` : "";
  return `{${k}"kw":${KEY_WRAP_ALGORITHMS[m.keyWrapAlgorithm]},"wfk":"${b64(m.wrappedFileKey)}","cph":${DATA_CIPHERS[m.cipher]},"np":"${b64(m.noncePrefix)}"}`;
}

/** Standard base64 with padding (RFC 4648 §4), strictly; undefined for anything else. */
export function decodeStdBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

/**
 * Parses and validates a manifest line; undefined when it is not valid (the caller reports one generic error, as
 * daprd does, to disclose nothing more). Keys match case-insensitively and unknown keys are ignored, as Go's json.Unmarshal.
 */
export function parseManifest(line: string): Manifest | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(doc)) fields.set(key.toLowerCase(), value);
  const keyName = fields.get("k") ?? "";
  const kw = fields.get("kw");
  const cph = fields.get("cph");
  const wfk = fields.get("wfk");
  const np = fields.get("np");
  if (typeof keyName !== "string" || typeof wfk !== "string" || typeof np !== "string") return undefined;
  if (!Number.isInteger(kw) || !Number.isInteger(cph)) return undefined;
  const keyWrapAlgorithm = keyWrapAlgorithmById(kw as number);
  const cipher = dataCipherById(cph as number);
  const wrappedFileKey = decodeStdBase64(wfk);
  const noncePrefix = decodeStdBase64(np);
  if (!keyWrapAlgorithm || !cipher || !wrappedFileKey?.length || noncePrefix?.length !== NONCE_PREFIX_LENGTH) return undefined;
  return { keyName: keyName || undefined, keyWrapAlgorithm, wrappedFileKey, cipher, noncePrefix };
}
