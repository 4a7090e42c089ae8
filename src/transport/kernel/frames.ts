// Length-prefixed frames on a byte stream: u32 length, then one encoded message.
import { TransportError } from "../transport";
import { copyEncoded, type EncodedMessage } from "../wire";

export function frameBytes(msg: EncodedMessage): Uint8Array {
  const out = new Uint8Array(4 + msg.length);
  const n = msg.length;
  out[0] = n >>> 24;
  out[1] = n >>> 16;
  out[2] = n >>> 8;
  out[3] = n;
  copyEncoded(msg, 0, msg.length, out, 4);
  return out;
}

/** Reassembles frames from arbitrary chunks; a large frame is filled in place, never re-concatenated. */
export class FrameReader {
  private readonly header = new Uint8Array(4);
  private headerGot = 0;
  private frame: Uint8Array | undefined;
  private frameGot = 0;

  constructor(private readonly maxFrame: number) {}

  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.frame) {
        const n = Math.min(this.frame.length - this.frameGot, chunk.length - at);
        this.frame.set(chunk.subarray(at, at + n), this.frameGot);
        this.frameGot += n;
        at += n;
        if (this.frameGot === this.frame.length) {
          const done = this.frame;
          this.frame = undefined;
          onFrame(done);
        }
        continue;
      }
      if (this.headerGot === 0 && chunk.length - at >= 4) {
        const len = readU32(chunk, at);
        this.checkLength(len);
        if (chunk.length - at - 4 >= len) {
          onFrame(new Uint8Array(chunk.subarray(at + 4, at + 4 + len))); // copy: Bun reuses chunk memory
          at += 4 + len;
          continue;
        }
        this.startFrame(len);
        at += 4;
        continue;
      }
      this.header[this.headerGot++] = chunk[at++]!;
      if (this.headerGot === 4) {
        this.headerGot = 0;
        const len = readU32(this.header, 0);
        this.checkLength(len);
        this.startFrame(len);
        if (len === 0) {
          this.frame = undefined;
          onFrame(new Uint8Array(0));
        }
      }
    }
  }

  private startFrame(len: number): void {
    this.frame = new Uint8Array(len);
    this.frameGot = 0;
  }

  private checkLength(len: number): void {
    if (len > this.maxFrame) throw new TransportError(`frame of ${len} bytes exceeds ${this.maxFrame}`, "too-large");
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
