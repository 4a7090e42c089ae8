// HTTP: PUT /v1.0-alpha1/crypto/{component}/encrypt and /decrypt (daprd pkg/api/http/crypto.go), body streamed
// through in both directions.
import type { ApiContext } from "../../api/context.js";
import type { HttpEndpoint } from "../../runtime/block.js";
import { isTruthy } from "../../components/metadata-schema.js";
import { cryptoOf } from "./slot.js";

const emptyStream = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/**
 * Reads the first chunk before answering, so that a message whose first segment fails (for a one-segment message:
 * any tampering) gets an error answer rather than a cut-off 200. Later failures can only cut the body off.
 */
async function primed(stream: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  const first = await reader.read();
  let pending: Uint8Array | undefined = first.done ? undefined : first.value;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

const octetStream = async (stream: ReadableStream<Uint8Array>) =>
  new Response(await primed(stream), { headers: { "content-type": "application/octet-stream" } });

export function cryptoEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const ep = (name: string, route: string, handler: HttpEndpoint["handler"]): HttpEndpoint =>
    ({ name, methods: ["PUT"], route, version: "v1.0-alpha1", group: "crypto", rawBody: true, handler });
  return [
    ep("CryptoEncrypt", "/crypto/:component/encrypt", async ({ params, request }) => {
      const h = request.headers;
      return octetStream(await cryptoOf(ctx).encrypt(params.component, request.body ?? emptyStream(), {
        keyName: h.get("dapr-key-name") ?? "",
        keyWrapAlgorithm: h.get("dapr-key-wrap-algorithm") ?? "",
        dataEncryptionCipher: h.get("dapr-data-encryption-cipher") ?? undefined,
        omitDecryptionKeyName: isTruthy(h.get("dapr-omit-decryption-key-name") ?? undefined),
        decryptionKeyName: h.get("dapr-decryption-key-name") ?? undefined,
      }));
    }),
    ep("CryptoDecrypt", "/crypto/:component/decrypt", async ({ params, request }) =>
      octetStream(await cryptoOf(ctx).decrypt(params.component, request.body ?? emptyStream(), request.headers.get("dapr-key-name") ?? undefined))),
  ];
}
