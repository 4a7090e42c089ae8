// The subtle crypto operations done in the runtime over keys a plugin looks up by name, with the checks of
// dapr/components-contrib's LocalCryptoBaseComponent: the key's "use"/"key_ops" must allow the operation and its "alg",
// when set, must be the requested algorithm.
import { createPublicKey, type KeyObject } from "node:crypto";
import { CryptoOperationError, type SubtleCrypto } from "../contracts/crypto.js";
import * as jwa from "./jwa.js";
import { keyAllows, type KeyOperation, type LocalKey } from "./local-key.js";

/** Looks a key up by name; throws CryptoKeyNotFoundError when there is none. */
export type RetrieveKeyFn = (keyName: string) => Promise<LocalKey>;

export function localSubtleCrypto(retrieve: RetrieveKeyFn, close: () => Promise<void> = async () => {}): SubtleCrypto {
  async function keyFor(keyName: string, op: KeyOperation, algorithm: string): Promise<KeyObject> {
    if (!keyName) throw new CryptoOperationError("key name is required");
    if (!algorithm) throw new CryptoOperationError("algorithm is required");
    const k = await retrieve(keyName);
    if (!keyAllows(k, op)) throw new CryptoOperationError(`key cannot perform the '${op}' operation`);
    if (k.alg && k.alg !== algorithm) throw new CryptoOperationError(`key cannot be used with algorithm '${algorithm}'`);
    return k.key;
  }
  return {
    async getKey(keyName) {
      const k = await retrieve(keyName);
      if (k.key.type === "secret") return undefined;
      return k.key.type === "private" ? createPublicKey(k.key) : k.key;
    },
    async encrypt({ plaintext, algorithm, keyName, nonce, associatedData }) {
      return jwa.encrypt(algorithm, await keyFor(keyName, "encrypt", algorithm), plaintext, nonce, associatedData);
    },
    async decrypt({ ciphertext, algorithm, keyName, nonce, tag, associatedData }) {
      return jwa.decrypt(algorithm, await keyFor(keyName, "decrypt", algorithm), ciphertext, nonce, tag, associatedData);
    },
    async wrapKey({ plaintextKey, algorithm, keyName, nonce, associatedData }) {
      const { ciphertext, tag } = jwa.encrypt(algorithm, await keyFor(keyName, "wrapKey", algorithm), plaintextKey, nonce, associatedData);
      return { wrappedKey: ciphertext, tag };
    },
    async unwrapKey({ wrappedKey, algorithm, keyName, nonce, tag, associatedData }) {
      return jwa.decrypt(algorithm, await keyFor(keyName, "unwrapKey", algorithm), wrappedKey, nonce, tag, associatedData);
    },
    async sign({ digest, algorithm, keyName }) {
      return jwa.sign(algorithm, await keyFor(keyName, "sign", algorithm), digest);
    },
    async verify({ digest, signature, algorithm, keyName }) {
      return jwa.verify(algorithm, await keyFor(keyName, "verify", algorithm), digest, signature);
    },
    supportedEncryptionAlgorithms: () => [...jwa.SYMMETRIC_ALGORITHMS, ...jwa.ASYMMETRIC_ALGORITHMS],
    supportedSignatureAlgorithms: () => [...jwa.SIGNATURE_ALGORITHMS],
    close,
  };
}
