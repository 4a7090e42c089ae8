// Deterministic payloads and checksums shared by transport tests.
import { createHash } from "node:crypto";

export function payload(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A handler that answers with the request's checksum and the body reversed. */
export async function checksumEcho(req: { path: string; body: Uint8Array }) {
  const reversed = req.body.slice().reverse();
  return { status: 200, headers: { "x-sha256": sha256(req.body), "x-path": req.path }, body: reversed };
}
