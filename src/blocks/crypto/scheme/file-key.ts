// The file key of one message and the two keys derived from it: the header's HMAC key and the payload key
// (HKDF-SHA-256, info "header" with no salt, and info "payload" salted with the nonce prefix).
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { aeadOpen, aeadSeal, type AeadCipher } from "../../../components/crypto/aead.js";
import { FILE_KEY_LENGTH, NONCE_PREFIX_LENGTH, SCHEME_NAME, type DataCipher } from "./constants.js";
import { decodeStdBase64 } from "./manifest.js";

const AEAD: Record<DataCipher, AeadCipher> = { "AES-GCM": "aes-gcm", "CHACHA20-POLY1305": "chacha20-poly1305" };
const encoder = new TextEncoder();

export class FileKey {
  private readonly headerKey: Uint8Array;
  private readonly payloadKey: Uint8Array;
  private readonly nonce = new Uint8Array(12);

  private constructor(readonly fileKey: Uint8Array, readonly noncePrefix: Uint8Array, readonly cipher: DataCipher) {
    this.headerKey = new Uint8Array(hkdfSync("sha256", fileKey, new Uint8Array(0), "header", 32));
    this.payloadKey = new Uint8Array(hkdfSync("sha256", fileKey, noncePrefix, "payload", 32));
    this.nonce.set(noncePrefix, 0);
  }

  /** A fresh random file key and nonce prefix from the CSPRNG. */
  static generate(cipher: DataCipher): FileKey {
    const rnd = randomBytes(FILE_KEY_LENGTH + NONCE_PREFIX_LENGTH);
    return new FileKey(new Uint8Array(rnd.subarray(0, FILE_KEY_LENGTH)), new Uint8Array(rnd.subarray(FILE_KEY_LENGTH)), cipher);
  }

  static import(fileKey: Uint8Array, noncePrefix: Uint8Array, cipher: DataCipher): FileKey {
    return new FileKey(fileKey, noncePrefix, cipher);
  }

  /** The complete header: scheme line, manifest line, base64 MAC line, each ended by "\n". */
  signedHeader(manifest: string): Uint8Array {
    const mac = this.mac(headerMessage(manifest)).toString("base64");
    return encoder.encode(`${SCHEME_NAME}\n${manifest}\n${mac}\n`);
  }

  /** Checks the MAC line against the exact manifest bytes of the header (never a re-encoding of it). */
  verifyHeader(manifest: Uint8Array, macBase64: string): boolean {
    const given = decodeStdBase64(macBase64);
    const expected = this.mac(headerMessage(manifest));
    return given !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  }

  sealSegment(plaintext: Uint8Array, index: number, last: boolean): Uint8Array {
    return aeadSeal(AEAD[this.cipher], this.payloadKey, this.segmentNonce(index, last), plaintext);
  }

  /** Undefined when the segment fails authentication. */
  openSegment(sealed: Uint8Array, index: number, last: boolean): Uint8Array | undefined {
    return aeadOpen(AEAD[this.cipher], this.payloadKey, this.segmentNonce(index, last), sealed);
  }

  /** nonce prefix (7 bytes) || segment index (uint32 big-endian) || 0x01 for the last segment, else 0x00 */
  private segmentNonce(index: number, last: boolean): Uint8Array {
    new DataView(this.nonce.buffer).setUint32(NONCE_PREFIX_LENGTH, index, false);
    this.nonce[NONCE_PREFIX_LENGTH + 4] = last ? 1 : 0;
    return this.nonce;
  }

  private mac(message: Uint8Array) {
    return createHmac("sha256", this.headerKey).update(message).digest();
  }
}

/** The signed part of the header: the scheme name and the manifest, each followed by "\n". */
function headerMessage(manifest: string | Uint8Array): Uint8Array {
  const m = typeof manifest === "string" ? encoder.encode(manifest) : manifest;
  const scheme = encoder.encode(SCHEME_NAME);
  const out = new Uint8Array(scheme.length + 1 + m.length + 1);
  out.set(scheme, 0);
  out[scheme.length] = 0x0a;
  out.set(m, scheme.length + 1);
  out[out.length - 1] = 0x0a;
  return out;
}
