// Encrypts a byte stream into the dapr.io/enc/v1 format.
import { ByteQueue, type ByteReader } from "./byte-queue.js";
import { resolveDataCipher, resolveKeyWrapAlgorithm, SEGMENT_SIZE, type KeyWrapAlgorithm } from "./constants.js";
import { EncryptionSchemeError } from "./errors.js";
import { FileKey } from "./file-key.js";
import { encodeManifest } from "./manifest.js";
import { segmentStream } from "./segments.js";

/** Wraps the 32-byte file key with the key `keyName` of a key store. */
export type WrapKeyFn = (fileKey: Uint8Array, algorithm: KeyWrapAlgorithm, keyName: string) => Promise<Uint8Array>;

export interface EncryptOptions {
  /** The key that wraps the file key ("name" or "name/version"). */
  keyName: string;
  /** Key wrapping algorithm: A256KW (alias AES), A128CBC-NOPAD, A192CBC-NOPAD, A256CBC-NOPAD, RSA-OAEP-256 (alias RSA); any case. */
  algorithm: string;
  /** Payload cipher: "AES-GCM" (default) or "CHACHA20-POLY1305"; any case. */
  cipher?: string;
  /** Key name written into the manifest for decryption; defaults to keyName. */
  decryptionKeyName?: string;
  /** Write no key name into the manifest: decrypting then needs an explicit key name. */
  omitKeyName?: boolean;
  wrapKey: WrapKeyFn;
}

/**
 * Validates the options and wraps a fresh file key (rejecting with an EncryptionSchemeError before reading any input),
 * then returns the ciphertext stream; a failure while streaming errors that stream.
 */
export async function encrypt(input: ReadableStream<Uint8Array>, opts: EncryptOptions): Promise<ReadableStream<Uint8Array>> {
  if (!opts.keyName) throw new EncryptionSchemeError("options", "option KeyName is required");
  if (!opts.algorithm) throw new EncryptionSchemeError("options", "option Algorithm is required");
  const keyWrapAlgorithm = resolveKeyWrapAlgorithm(opts.algorithm);
  const cipher = resolveDataCipher(opts.cipher);
  const fk = FileKey.generate(cipher);
  let wrappedFileKey: Uint8Array;
  try {
    wrappedFileKey = await opts.wrapKey(fk.fileKey, keyWrapAlgorithm, opts.keyName);
  } catch (err) {
    throw new EncryptionSchemeError("wrap", `failed to wrap the file key: ${(err as Error)?.message ?? err}`, { cause: err });
  }
  const keyName = opts.omitKeyName ? undefined : opts.decryptionKeyName || opts.keyName;
  const header = fk.signedHeader(encodeManifest({ keyName, keyWrapAlgorithm, wrappedFileKey, cipher, noncePrefix: fk.noncePrefix }));
  if (header.length > SEGMENT_SIZE) throw new EncryptionSchemeError("options", "failed to sign header: header is too long");
  return segmentStream(new ByteQueue(input.getReader() as ByteReader), SEGMENT_SIZE, (segment, index, last) => fk.sealSegment(segment, index, last), header);
}
