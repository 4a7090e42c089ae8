// The cryptography building block: dapr.io/enc/v1 streams and the Subtle* operations over a crypto component.
import { CryptoKeyNotFoundError, type SubtleCrypto } from "../../components/contracts/crypto.js";
import type { ComponentRegistry } from "../../components/registry.js";
import { DaprError, errors, messageOf } from "../../errors.js";
import { decrypt, encrypt } from "./scheme/index.js";

export interface EncryptStreamOptions {
  keyName: string;
  keyWrapAlgorithm: string;
  dataEncryptionCipher?: string;
  omitDecryptionKeyName?: boolean;
  decryptionKeyName?: string;
}

/** ERR_CRYPTO, daprd's answer to every failed operation (scheme errors included). */
function operationFailed(err: unknown): DaprError {
  if (err instanceof DaprError) return err;
  // The caller's own failure (e.g. a body over the size limit) that the scheme passed on.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof DaprError) return cause;
  return errors.crypto(`failed to perform operation: ${messageOf(err)}`);
}

/** Runs `op`, reporting any failure as ERR_CRYPTO. */
async function operation<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw operationFailed(err);
  }
}

export class CryptoBlock {
  constructor(private readonly registry: ComponentRegistry) {}

  component(name: string): SubtleCrypto {
    if (!name) throw errors.badRequest("missing component name");
    const component = this.registry.get<SubtleCrypto>("crypto", name);
    if (component) return component;
    if (this.registry.list("crypto").length === 0) throw errors.cryptoProvidersNotConfigured("crypto providers not configured");
    throw errors.cryptoProviderNotFound(`crypto provider ${name} not found`);
  }

  /** Rejects (ERR_CRYPTO) before reading any input when the options or the key are not usable. */
  async encrypt(componentName: string, input: ReadableStream<Uint8Array>, opts: EncryptStreamOptions): Promise<ReadableStream<Uint8Array>> {
    const component = this.component(componentName);
    if (!opts.keyName) throw errors.badRequest("missing key name");
    if (!opts.keyWrapAlgorithm) throw errors.badRequest("missing key wrap algorithm");
    const output = await operation(() =>
      encrypt(input, {
        keyName: opts.keyName,
        algorithm: opts.keyWrapAlgorithm,
        cipher: opts.dataEncryptionCipher || undefined,
        omitKeyName: opts.omitDecryptionKeyName,
        decryptionKeyName: opts.decryptionKeyName || undefined,
        wrapKey: async (fileKey, algorithm, keyName) => (await component.wrapKey({ plaintextKey: fileKey, algorithm, keyName })).wrappedKey,
      }),
    );
    return reportingAsCrypto(output);
  }

  /** Rejects (ERR_CRYPTO) when the header does not authenticate; a tampered segment errors the returned stream. */
  async decrypt(componentName: string, input: ReadableStream<Uint8Array>, keyName?: string): Promise<ReadableStream<Uint8Array>> {
    const component = this.component(componentName);
    const output = await operation(() =>
      decrypt(input, { keyName: keyName || undefined, unwrapKey: (wrappedKey, algorithm, name) => component.unwrapKey({ wrappedKey, algorithm, keyName: name }) }),
    );
    return reportingAsCrypto(output);
  }

  async getKey(componentName: string, keyName: string) {
    const component = this.component(componentName);
    if (!keyName) throw errors.badRequest("missing key name");
    try {
      const key = await component.getKey(keyName);
      if (!key) throw new CryptoKeyNotFoundError(keyName, "the key is not an asymmetric key or does not exist");
      return key;
    } catch (err) {
      throw errors.cryptoKey(`failed to retrieve key ${keyName}: ${messageOf(err)}`);
    }
  }

  /** One Subtle* call on the component, its failures as ERR_CRYPTO. */
  subtle<T>(componentName: string, call: (component: SubtleCrypto) => Promise<T>): Promise<T> {
    const component = this.component(componentName);
    return operation(() => call(component));
  }
}

/** A stream whose failure (a segment that does not authenticate, a broken input) reads as ERR_CRYPTO. */
function reportingAsCrypto(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(operationFailed(err));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
