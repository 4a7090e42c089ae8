// The constants and identifiers of Dapr's encryption scheme v1 ("dapr.io/enc/v1"), as dapr/kit schemes/enc/v1 defines them.
import { EncryptionSchemeError } from "./errors.js";

export const SCHEME_NAME = "dapr.io/enc/v1";
/** Plaintext bytes per segment; the last segment may be shorter, and no segment is empty unless the whole message is. */
export const SEGMENT_SIZE = 64 * 1024;
/** The AEAD tag after each encrypted segment. */
export const SEGMENT_OVERHEAD = 16;
export const NONCE_PREFIX_LENGTH = 7;
export const FILE_KEY_LENGTH = 32;
/** The segment counter is a 32-bit unsigned integer. */
export const MAX_SEGMENTS = 2 ** 32;

/** The algorithms the file key may be wrapped with, and their ids in the manifest's "kw" field. */
export const KEY_WRAP_ALGORITHMS = {
  A256KW: 1,
  "A128CBC-NOPAD": 2,
  "A192CBC-NOPAD": 3,
  "A256CBC-NOPAD": 4,
  "RSA-OAEP-256": 5,
} as const;
export type KeyWrapAlgorithm = keyof typeof KEY_WRAP_ALGORITHMS;

const KEY_WRAP_ALIASES: Record<string, KeyWrapAlgorithm> = { AES: "A256KW", RSA: "RSA-OAEP-256" };

/** The AEAD ciphers of the payload, and their ids in the manifest's "cph" field. */
export const DATA_CIPHERS = { "AES-GCM": 1, "CHACHA20-POLY1305": 2 } as const;
export type DataCipher = keyof typeof DATA_CIPHERS;

const byId = <K extends string>(table: Record<K, number>, id: number): K | undefined =>
  (Object.keys(table) as K[]).find((k) => table[k] === id);

/** Resolves a key wrapping algorithm by name, case-insensitively (daprd upper-cases it), with the AES and RSA aliases. */
export function resolveKeyWrapAlgorithm(name: string): KeyWrapAlgorithm {
  const upper = name.toUpperCase();
  if (upper in KEY_WRAP_ALGORITHMS) return upper as KeyWrapAlgorithm;
  const alias = KEY_WRAP_ALIASES[upper];
  if (alias) return alias;
  throw new EncryptionSchemeError("options", `option Algorithm is not valid: algorithm ${name} is not supported`);
}

/** Resolves the payload cipher by name, case-insensitively; AES-GCM when none is given. */
export function resolveDataCipher(name?: string): DataCipher {
  if (!name) return "AES-GCM";
  const upper = name.toUpperCase();
  if (upper in DATA_CIPHERS) return upper as DataCipher;
  throw new EncryptionSchemeError("options", `option Cipher is not valid: cipher ${name} is not supported`);
}

export const keyWrapAlgorithmById = (id: number) => byId(KEY_WRAP_ALGORITHMS, id);
export const dataCipherById = (id: number) => byId(DATA_CIPHERS, id);
