// The crypto contract: a key vault that performs Dapr's "subtle" operations with keys the app never sees
// (dapr.proto.runtime.v1 Subtle*Alpha1), and wraps the file keys of the dapr.io/enc/v1 scheme.
// Algorithm names are JWA's, as Dapr's SubtleCrypto API takes them ("A256KW", "RSA-OAEP-256", "PS256", …).
// test/conformance/crypto.test.ts proves it for every crypto plugin.
import type { KeyObject } from "node:crypto";
import type { Component } from "../plugin.js";

export interface SubtleEncryptRequest {
  plaintext: Uint8Array;
  algorithm: string;
  /** "name" or "name/version" of the key in the vault. */
  keyName: string;
  /** Nonce / IV; ignored by asymmetric algorithms. */
  nonce?: Uint8Array;
  /** AEAD associated data (the OAEP label for RSA-OAEP). */
  associatedData?: Uint8Array;
}

export interface SubtleDecryptRequest {
  ciphertext: Uint8Array;
  algorithm: string;
  keyName: string;
  nonce?: Uint8Array;
  /** The authentication tag of AEAD algorithms. */
  tag?: Uint8Array;
  associatedData?: Uint8Array;
}

export interface SubtleCiphertext {
  ciphertext: Uint8Array;
  /** Present for authenticated algorithms only. */
  tag?: Uint8Array;
}

export interface SubtleSignRequest {
  /** The digest of the message (EdDSA: the message itself). */
  digest: Uint8Array;
  algorithm: string;
  keyName: string;
}

export interface SubtleVerifyRequest extends SubtleSignRequest {
  signature: Uint8Array;
}

export interface SubtleCrypto extends Component {
  /** The public part of an asymmetric key; undefined when the vault has no such key or it is symmetric. */
  getKey(keyName: string): Promise<KeyObject | undefined>;
  encrypt(req: SubtleEncryptRequest): Promise<SubtleCiphertext>;
  decrypt(req: SubtleDecryptRequest): Promise<Uint8Array>;
  /** Wraps raw key bytes (a symmetric key) with the vault's key. */
  wrapKey(req: Omit<SubtleEncryptRequest, "plaintext"> & { plaintextKey: Uint8Array }): Promise<{ wrappedKey: Uint8Array; tag?: Uint8Array }>;
  /** Unwraps into raw key bytes. */
  unwrapKey(req: Omit<SubtleDecryptRequest, "ciphertext"> & { wrappedKey: Uint8Array }): Promise<Uint8Array>;
  sign(req: SubtleSignRequest): Promise<Uint8Array>;
  /** False for a signature that does not match; throws for a request that cannot be checked (unknown key or algorithm). */
  verify(req: SubtleVerifyRequest): Promise<boolean>;
  supportedEncryptionAlgorithms(): string[];
  supportedSignatureAlgorithms(): string[];
}

/** The vault has no key by that name (daprd: ERR_CRYPTO_KEY for GetKey, ERR_CRYPTO for the other operations). */
export class CryptoKeyNotFoundError extends Error {
  constructor(readonly keyName: string, detail = "key not found") {
    super(`failed to retrieve the key ${JSON.stringify(keyName)}: ${detail}`);
    this.name = "CryptoKeyNotFoundError";
  }
}

/** The operation cannot be done as asked: unsupported algorithm, a key of the wrong type or use, a bad nonce or tag, a failed decryption. */
export class CryptoOperationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CryptoOperationError";
  }
}
