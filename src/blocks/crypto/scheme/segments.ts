// The payload: the input cut into segments, each sealed or opened on its own, one segment in memory at a time.
// A segment is the last one when the input ends within one segment's length plus a byte; that flag is part of the
// segment's nonce, so truncating, reordering or extending the ciphertext fails authentication.
import { ByteQueue } from "./byte-queue.js";
import { MAX_SEGMENTS } from "./constants.js";
import { EncryptionSchemeError } from "./errors.js";

/** Seals or opens one segment; throws EncryptionSchemeError to refuse it. */
export type SegmentProcessor = (segment: Uint8Array, index: number, last: boolean) => Uint8Array;

/**
 * A stream of `prefix` (when given), then each processed segment of `input`, pulled as the consumer reads.
 * `segmentLength` is the size of an input segment (plaintext: 64 KiB; ciphertext: 64 KiB + the tag).
 */
export function segmentStream(input: ByteQueue, segmentLength: number, process: SegmentProcessor, prefix?: Uint8Array): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (prefix) controller.enqueue(prefix);
    },
    async pull(controller) {
      try {
        await input.fill(segmentLength + 1);
        if (input.size === 0) {
          // Only an empty message has no segment at all; after a segment, the input never ends here (see `last`).
          controller.close();
          return;
        }
        const last = input.size <= segmentLength;
        if (!last && index === MAX_SEGMENTS - 1) throw new EncryptionSchemeError("too-large", "input stream is too large");
        controller.enqueue(process(input.take(segmentLength), index, last));
        index++;
        if (last) controller.close();
      } catch (err) {
        await input.cancel(err);
        throw err;
      }
    },
    async cancel(reason) {
      await input.cancel(reason);
    },
  });
}
