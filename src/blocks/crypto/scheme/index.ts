// Dapr's encryption scheme v1 ("dapr.io/enc/v1") over Web Streams. See ../README.md.
export { encrypt, type EncryptOptions, type WrapKeyFn } from "./encrypt.js";
export { decrypt, type DecryptOptions, type UnwrapKeyFn } from "./decrypt.js";
export { EncryptionSchemeError, type EncryptionSchemeErrorKind } from "./errors.js";
export {
  DATA_CIPHERS, KEY_WRAP_ALGORITHMS, SCHEME_NAME, SEGMENT_OVERHEAD, SEGMENT_SIZE,
  resolveDataCipher, resolveKeyWrapAlgorithm, type DataCipher, type KeyWrapAlgorithm,
} from "./constants.js";
