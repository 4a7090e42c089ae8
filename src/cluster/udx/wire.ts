// UDX wire format (libudx, protocol version 1). Every stream packet starts with a 20 byte header:
//   u8 magic (255) | u8 version (1) | u8 type flags | u8 data offset
//   u32le remote stream id | u32le receive window | u32le seq | u32le ack
// followed by `data offset` bytes (SACK blocks as u32le start/end pairs, or zero padding for MTU
// probes) and then the payload.

export const HEADER_SIZE = 20;
export const MAGIC_BYTE = 255;
export const VERSION = 1;

export const TYPE_DATA = 0b000001;
export const TYPE_END = 0b000010;
export const TYPE_SACK = 0b000100;
export const TYPE_MESSAGE = 0b001000;
export const TYPE_DESTROY = 0b010000;
export const TYPE_HEARTBEAT = 0b100000;

export const MTU_BASE = 1200;
export const MTU_MAX = 1500;
export const MTU_STEP = 32;
export const MTU_MAX_PROBES = 3;
/** IP + UDP + UDX header bytes on top of the payload. */
export const IPV4_OVERHEAD = 20 + 8 + HEADER_SIZE;
export const IPV6_OVERHEAD = 40 + 8 + HEADER_SIZE;

export const MAX_SACKS = 50;
export const DEFAULT_RWND_MAX = 4 * 1024 * 1024;
export const HIGH_WATERMARK = 262144;
/** libudx uses 1 s; the floor is a local choice, and 200 ms (Linux TCP's) recovers faster on a LAN. */
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 30000;
export const MAX_RTO_TIMEOUTS = 6;

export interface Header {
  type: number;
  dataOffset: number;
  id: number;
  rwnd: number;
  seq: number;
  ack: number;
}

export function writeHeader(buf: Uint8Array, h: Header): void {
  const view = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  buf[0] = MAGIC_BYTE;
  buf[1] = VERSION;
  buf[2] = h.type;
  buf[3] = h.dataOffset;
  view.setUint32(4, h.id >>> 0, true);
  view.setUint32(8, h.rwnd >>> 0, true);
  view.setUint32(12, h.seq >>> 0, true);
  view.setUint32(16, h.ack >>> 0, true);
}

/** Returns null when the datagram is not a UDX stream packet. */
export function readHeader(buf: Uint8Array): Header | null {
  if (buf.byteLength < HEADER_SIZE || buf[0] !== MAGIC_BYTE || buf[1] !== VERSION) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  return {
    type: buf[2]!,
    dataOffset: buf[3]!,
    id: view.getUint32(4, true),
    rwnd: view.getUint32(8, true),
    seq: view.getUint32(12, true),
    ack: view.getUint32(16, true),
  };
}

/** Signed distance a - b on the 32 bit sequence circle. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLess(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
