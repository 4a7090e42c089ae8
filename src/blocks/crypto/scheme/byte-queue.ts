// Reads a byte stream in exact-size pieces, holding at most the piece asked for plus one chunk of the input.
import { EncryptionSchemeError } from "./errors.js";

/** The part of a ReadableStream reader the queue uses (any implementation of Web Streams). */
export interface ByteReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private ended = false;
  /** Bytes buffered and not yet taken. */
  size = 0;

  constructor(private readonly reader: ByteReader) {}

  /** Reads until at least `n` bytes are buffered or the input ended; true while more may follow. */
  async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.ended) await this.pull();
    return !this.ended;
  }

  /** Reads one more chunk; false at the end of the input. */
  async pull(): Promise<boolean> {
    if (this.ended) return false;
    let r: Awaited<ReturnType<ByteReader["read"]>>;
    try {
      r = await this.reader.read();
    } catch (err) {
      throw new EncryptionSchemeError("input", `error reading the input stream: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    if (!(r.value instanceof Uint8Array)) throw new EncryptionSchemeError("input", "the input stream must carry bytes (Uint8Array chunks)");
    if (r.value.length) {
      this.chunks.push(r.value);
      this.size += r.value.length;
    }
    return true;
  }

  /** Finds `byte` in buffered positions [from, size); -1 when absent. */
  indexOf(byte: number, from: number): number {
    let base = -this.head;
    for (const c of this.chunks) {
      const start = Math.max(0, from - base);
      if (start < c.length) {
        const i = c.indexOf(byte, start);
        if (i >= 0) return base + i;
      }
      base += c.length;
    }
    return -1;
  }

  /** Removes and returns the next min(n, size) bytes, copied into one array. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.size));
    let filled = 0;
    while (filled < out.length) {
      const c = this.chunks[0];
      const count = Math.min(c.length - this.head, out.length - filled);
      out.set(c.subarray(this.head, this.head + count), filled);
      filled += count;
      this.head += count;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.size -= out.length;
    return out;
  }

  async cancel(reason?: unknown) {
    this.chunks = [];
    this.size = 0;
    await this.reader.cancel(reason).catch(() => {});
  }
}
