// Every refusal of the scheme is an EncryptionSchemeError; `kind` says which step refused, the message follows dapr/kit's.
export type EncryptionSchemeErrorKind =
  /** Bad encrypt/decrypt options (missing key name, unknown algorithm or cipher). */
  | "options"
  /** The key component could not wrap the file key. */
  | "wrap"
  /** The ciphertext does not start with a well-formed dapr.io/enc/v1 header. */
  | "header"
  /** The manifest names no key and the caller gave none. */
  | "key-missing"
  /** The header's MAC does not match: tampered header, or the key could not unwrap the file key. */
  | "signature"
  /** A segment failed authentication: tampered, truncated, reordered or extended ciphertext. */
  | "segment"
  /** More segments than the 32-bit counter allows. */
  | "too-large"
  /** The input stream failed. */
  | "input";

export class EncryptionSchemeError extends Error {
  constructor(readonly kind: EncryptionSchemeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EncryptionSchemeError";
  }
}
