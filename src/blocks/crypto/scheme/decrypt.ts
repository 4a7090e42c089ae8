// Decrypts a dapr.io/enc/v1 byte stream: the header is read and its MAC checked before any plaintext is produced, and
// each segment is authenticated before it is handed on.
import { ByteQueue, type ByteReader } from "./byte-queue.js";
import { FILE_KEY_LENGTH, SCHEME_NAME, SEGMENT_OVERHEAD, SEGMENT_SIZE, type KeyWrapAlgorithm } from "./constants.js";
import { EncryptionSchemeError } from "./errors.js";
import { FileKey } from "./file-key.js";
import { parseManifest } from "./manifest.js";
import { segmentStream } from "./segments.js";

/** Unwraps the file key with the key `keyName` of a key store. */
export type UnwrapKeyFn = (wrappedKey: Uint8Array, algorithm: KeyWrapAlgorithm, keyName: string) => Promise<Uint8Array>;

export interface DecryptOptions {
  /** Overrides the key name of the manifest; required when the manifest has none. */
  keyName?: string;
  unwrapKey: UnwrapKeyFn;
}

const decoder = new TextDecoder();
const headerError = (what: string) => new EncryptionSchemeError("header", `invalid header: ${what}`);

/**
 * Reads and verifies the header (rejecting with an EncryptionSchemeError when it is malformed, names no key, or its MAC
 * fails), then returns the plaintext stream; a segment that fails authentication errors that stream.
 */
export async function decrypt(input: ReadableStream<Uint8Array>, opts: DecryptOptions): Promise<ReadableStream<Uint8Array>> {
  const queue = new ByteQueue(input.getReader() as ByteReader);
  try {
    const [scheme, manifestBytes, macLine] = await readHeaderLines(queue);
    if (decoder.decode(scheme) !== SCHEME_NAME) throw headerError("unsupported scheme");
    const manifest = parseManifest(decoder.decode(manifestBytes));
    if (!manifest) throw headerError("invalid manifest");
    const keyName = opts.keyName || manifest.keyName;
    if (!keyName) throw new EncryptionSchemeError("key-missing", "document's manifest does not contain a key name, and no key name was provided");
    // As dapr/kit: a key that cannot unwrap (missing, wrong, failing) is not reported as such; the MAC check with a
    // zero key fails instead, so the answer does not tell whether the key exists.
    let fileKey: Uint8Array | undefined;
    try {
      fileKey = await opts.unwrapKey(manifest.wrappedFileKey, manifest.keyWrapAlgorithm, keyName);
    } catch {
      fileKey = undefined;
    }
    if (fileKey?.length !== FILE_KEY_LENGTH) fileKey = new Uint8Array(FILE_KEY_LENGTH);
    const fk = FileKey.import(fileKey, manifest.noncePrefix, manifest.cipher);
    if (!fk.verifyHeader(manifestBytes, decoder.decode(macLine))) {
      throw new EncryptionSchemeError("signature", "failed to validate the document's signature");
    }
    return segmentStream(queue, SEGMENT_SIZE + SEGMENT_OVERHEAD, (segment, index, last) => {
      const plaintext = segment.length > SEGMENT_OVERHEAD ? fk.openSegment(segment, index, last) : undefined;
      if (!plaintext) throw new EncryptionSchemeError("segment", `error processing segment ${index}: failed to decrypt segment`);
      return plaintext;
    });
  } catch (err) {
    await queue.cancel(err);
    throw err;
  }
}

/** The header's three lines, without their "\n"; the header fits in one segment's length. */
async function readHeaderLines(queue: ByteQueue): Promise<Uint8Array[]> {
  let end = -1;
  let scanned = 0;
  let newlines = 0;
  while (newlines < 3) {
    const i = queue.indexOf(0x0a, scanned);
    if (i >= 0 && i < SEGMENT_SIZE) {
      newlines++;
      scanned = i + 1;
      end = i;
      continue;
    }
    scanned = Math.min(queue.size, SEGMENT_SIZE);
    if (scanned >= SEGMENT_SIZE) throw headerError("header is too long");
    if (!(await queue.pull())) throw headerError(newlines === 0 ? "scheme name not found" : newlines === 1 ? "manifest not found" : "message authentication code not found");
  }
  const header = queue.take(end + 1);
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < header.length; i++) {
    if (header[i] !== 0x0a) continue;
    if (i === start) throw headerError("invalid format");
    lines.push(header.subarray(start, i));
    start = i + 1;
  }
  return lines;
}
