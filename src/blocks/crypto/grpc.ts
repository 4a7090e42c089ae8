// gRPC: EncryptAlpha1 / DecryptAlpha1 (bidirectional streams of numbered chunks, options in the first message) and
// Subtle*Alpha1.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { StreamPayload } from "../../gen/dapr/proto/common/v1/common_pb.js";
import { SubtleGetKeyRequest_KeyFormat } from "../../gen/dapr/proto/runtime/v1/crypto_pb.js";
import type { ApiContext } from "../../api/context.js";
import { errors } from "../../errors.js";
import { cryptoOf } from "./slot.js";

/** Absent (empty) proto bytes → undefined, as the contract's optional fields. */
const opt = (b: Uint8Array) => (b.length ? b : undefined);

interface ChunkedRequest<O> {
  options?: O;
  payload?: StreamPayload;
}

/**
 * Splits a request stream into the options of its first message and a byte stream of every payload, pulled on demand
 * (so the client's sending is paced by the output). Chunks must come numbered from 0 in order.
 */
async function optionsAndPayload<O>(requests: AsyncIterable<ChunkedRequest<O>>, method: string): Promise<{ options: O; input: ReadableStream<Uint8Array> }> {
  const it = requests[Symbol.asyncIterator]();
  const first = await it.next();
  const options = first.done ? undefined : first.value.options;
  if (!options) throw errors.badRequest(`the first message of ${method} must contain the options`);
  let pending = first.value.payload;
  let expected = 0n;
  const input = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (let payload = pending; ; payload = undefined) {
        if (!payload) {
          const next = await it.next();
          if (next.done) return controller.close();
          payload = next.value.payload;
          if (!payload) continue;
        }
        pending = undefined;
        if (payload.seq !== expected) {
          return controller.error(errors.badRequest(`invalid sequence number: expected ${expected}, got ${payload.seq}`));
        }
        expected++;
        if (payload.data.length) return controller.enqueue(payload.data);
      }
    },
    cancel: async () => void (await it.return?.()),
  }, { highWaterMark: 0 });
  return { options, input };
}

async function* numberedChunks(output: ReadableStream<Uint8Array>, signal: AbortSignal) {
  const reader = output.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  try {
    for (let seq = 0n; ; seq++) {
      const { done, value } = await reader.read();
      if (done) return;
      yield { payload: { data: value, seq } };
    }
  } finally {
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}

export function cryptoHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async *encryptAlpha1(requests, context: HandlerContext) {
      const { options: o, input } = await optionsAndPayload(requests, "EncryptAlpha1");
      const output = await cryptoOf(ctx).encrypt(o.componentName, input, o);
      yield* numberedChunks(output, context.signal);
    },
    async *decryptAlpha1(requests, context: HandlerContext) {
      const { options: o, input } = await optionsAndPayload(requests, "DecryptAlpha1");
      const output = await cryptoOf(ctx).decrypt(o.componentName, input, o.keyName);
      yield* numberedChunks(output, context.signal);
    },
    async subtleGetKeyAlpha1(req) {
      const key = await cryptoOf(ctx).getKey(req.componentName, req.name);
      const publicKey = req.format === SubtleGetKeyRequest_KeyFormat.JSON
        ? JSON.stringify(key.export({ format: "jwk" }))
        : String(key.export({ type: "spki", format: "pem" }));
      return { name: req.name, publicKey };
    },
    async subtleEncryptAlpha1(req) {
      const out = await cryptoOf(ctx).subtle(req.componentName, (c) =>
        c.encrypt({ plaintext: req.plaintext, algorithm: req.algorithm, keyName: req.keyName, nonce: opt(req.nonce), associatedData: opt(req.associatedData) }));
      return { ciphertext: out.ciphertext, tag: out.tag ?? new Uint8Array() };
    },
    async subtleDecryptAlpha1(req) {
      const plaintext = await cryptoOf(ctx).subtle(req.componentName, (c) =>
        c.decrypt({ ciphertext: req.ciphertext, algorithm: req.algorithm, keyName: req.keyName, nonce: opt(req.nonce), tag: opt(req.tag), associatedData: opt(req.associatedData) }));
      return { plaintext };
    },
    async subtleWrapKeyAlpha1(req) {
      const out = await cryptoOf(ctx).subtle(req.componentName, (c) =>
        c.wrapKey({ plaintextKey: req.plaintextKey, algorithm: req.algorithm, keyName: req.keyName, nonce: opt(req.nonce), associatedData: opt(req.associatedData) }));
      return { wrappedKey: out.wrappedKey, tag: out.tag ?? new Uint8Array() };
    },
    async subtleUnwrapKeyAlpha1(req) {
      const plaintextKey = await cryptoOf(ctx).subtle(req.componentName, (c) =>
        c.unwrapKey({ wrappedKey: req.wrappedKey, algorithm: req.algorithm, keyName: req.keyName, nonce: opt(req.nonce), tag: opt(req.tag), associatedData: opt(req.associatedData) }));
      return { plaintextKey };
    },
    async subtleSignAlpha1(req) {
      const signature = await cryptoOf(ctx).subtle(req.componentName, (c) => c.sign({ digest: req.digest, algorithm: req.algorithm, keyName: req.keyName }));
      return { signature };
    },
    async subtleVerifyAlpha1(req) {
      const valid = await cryptoOf(ctx).subtle(req.componentName, (c) =>
        c.verify({ digest: req.digest, algorithm: req.algorithm, keyName: req.keyName, signature: req.signature }));
      return { valid };
    },
  };
}
