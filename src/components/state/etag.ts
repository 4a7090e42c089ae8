const buf = new Uint8Array(8);

/** An opaque, unguessable version tag; a key deleted and written again never reuses an old one. */
export function newEtag(): string {
  crypto.getRandomValues(buf);
  return Buffer.from(buf).toString("hex");
}
