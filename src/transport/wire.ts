// Binary encoding of one request or response, shared by the kernel and DPDK transports.
// Layout: u8 type | u32 id | (request: str kind, str path | response: u16 status) | u16 header count,
// (str name, str value)* | body to the end. str = u16 byte length + UTF-8.
import { TransportError, type TransportRequest, type TransportResponse } from "./transport";

export const enum MessageType {
  Request = 1,
  Response = 2,
  /** Streams (src/transport/transport.ts StreamEvents): opened by the client like a request, */
  StreamOpen = 3,
  /** answered by a head like a response, */
  StreamHead = 4,
  /** then data either way (the body), */
  StreamData = 5,
  /** an end either way (headers: the trailers from the server), */
  StreamEnd = 6,
  /** or a reset either way (headers.reason), */
  StreamReset = 7,
  /** and the receiver's flow control: stop / go on sending data. */
  StreamPause = 8,
  StreamResume = 9,
}

/** Stream messages after the open: encoded as a response (status 0 unless a head). */
export type StreamMessageType = MessageType.StreamHead | MessageType.StreamData | MessageType.StreamEnd | MessageType.StreamReset | MessageType.StreamPause | MessageType.StreamResume;

export type WireMessage =
  | { type: MessageType.Request; id: number; request: TransportRequest }
  | { type: MessageType.StreamOpen; id: number; request: TransportRequest }
  | { type: MessageType.Response; id: number; response: TransportResponse }
  | { type: StreamMessageType; id: number; response: TransportResponse };

/** An encoded message: a small head and the body, kept apart so the body is never copied to encode it. */
export interface EncodedMessage {
  head: Uint8Array;
  body: Uint8Array;
  length: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Short ASCII strings (kinds, paths, header names) dominate; encoding them by hand avoids
// TextEncoder/TextDecoder calls and DataView allocations on the per-message path.
function utf8(s: string): Uint8Array | string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      const bytes = encoder.encode(s);
      if (bytes.length > 0xffff) throw new TransportError(`string of ${bytes.length} bytes exceeds 65535`, "too-large");
      return bytes;
    }
  }
  if (s.length > 0xffff) throw new TransportError(`string of ${s.length} bytes exceeds 65535`, "too-large");
  return s;
}

const byteLength = (p: Uint8Array | string) => p.length;

function writeU16(b: Uint8Array, at: number, v: number) {
  b[at] = v >>> 8;
  b[at + 1] = v;
}

function writeStr(b: Uint8Array, at: number, p: Uint8Array | string): number {
  writeU16(b, at, p.length);
  at += 2;
  if (typeof p === "string") {
    for (let i = 0; i < p.length; i++) b[at + i] = p.charCodeAt(i);
  } else {
    b.set(p, at);
  }
  return at + p.length;
}

function encodeHead(
  first: (Uint8Array | string)[],
  status: number | undefined,
  headers: Record<string, string>,
  type: MessageType,
  id: number,
): Uint8Array {
  const pairs: (Uint8Array | string)[] = [];
  for (const name in headers) pairs.push(utf8(name), utf8(headers[name] ?? ""));
  let size = 1 + 4 + (status === undefined ? 0 : 2) + 2;
  for (const p of first) size += 2 + byteLength(p);
  for (const p of pairs) size += 2 + byteLength(p);
  const head = new Uint8Array(size);
  head[0] = type;
  head[1] = id >>> 24;
  head[2] = id >>> 16;
  head[3] = id >>> 8;
  head[4] = id;
  let at = 5;
  if (status !== undefined) {
    writeU16(head, at, status);
    at += 2;
  }
  for (const p of first) at = writeStr(head, at, p);
  writeU16(head, at, pairs.length / 2);
  at += 2;
  for (const p of pairs) at = writeStr(head, at, p);
  return head;
}

export function encodeRequest(id: number, req: TransportRequest): EncodedMessage {
  const head = encodeHead([utf8(req.kind), utf8(req.path)], undefined, req.headers, MessageType.Request, id);
  return { head, body: req.body, length: head.length + req.body.length };
}

export function encodeResponse(id: number, res: TransportResponse): EncodedMessage {
  const head = encodeHead([], res.status, res.headers, MessageType.Response, id);
  return { head, body: res.body, length: head.length + res.body.length };
}

export function encodeStreamOpen(id: number, req: TransportRequest): EncodedMessage {
  const head = encodeHead([utf8(req.kind), utf8(req.path)], undefined, req.headers, MessageType.StreamOpen, id);
  return { head, body: req.body, length: head.length + req.body.length };
}

const NO_HEADERS: Record<string, string> = {};

export function encodeStreamMessage(type: StreamMessageType, id: number, headers = NO_HEADERS, body = EMPTY, status = 0): EncodedMessage {
  const head = encodeHead([], status, headers, type, id);
  return { head, body, length: head.length + body.length };
}

/** Copies bytes [from, from+len) of the encoded message into dst at dstOffset. */
export function copyEncoded(msg: EncodedMessage, from: number, len: number, dst: Uint8Array, dstOffset: number): void {
  const headLen = msg.head.length;
  if (from < headLen) {
    const n = Math.min(len, headLen - from);
    dst.set(n === headLen ? msg.head : msg.head.subarray(from, from + n), dstOffset);
    from += n;
    len -= n;
    dstOffset += n;
  }
  if (len > 0) {
    const start = from - headLen;
    dst.set(start === 0 && len === msg.body.length ? msg.body : msg.body.subarray(start, start + len), dstOffset);
  }
}

// Decoder cursor: module state instead of per-call closures (decoding is synchronous and not re-entrant).
const EMPTY: Uint8Array = new Uint8Array(0);
const EMPTY_BUF = Buffer.alloc(0);
let dBytes: Uint8Array = EMPTY;
/** dBytes as a Buffer (same indexes), for native latin1 slicing. */
let dBuf: Buffer = EMPTY_BUF;
let dAt = 0;
let dEnd = 0;

function need(n: number): void {
  if (dAt + n > dEnd) throw new TransportError("truncated message", "protocol");
}

function readU16(): number {
  need(2);
  const v = (dBytes[dAt]! << 8) | dBytes[dAt + 1]!;
  dAt += 2;
  return v;
}

function readStr(): string {
  const len = readU16();
  need(len);
  const from = dAt;
  dAt += len;
  for (let i = from; i < dAt; i++) if (dBytes[i]! > 0x7f) return decoder.decode(dBytes.subarray(from, dAt));
  // ASCII, the common case: one native slice. Building it char by char allocated ~12 KB per message.
  return dBuf.toString("latin1", from, dAt);
}

function readHeaders(): Record<string, string> {
  const count = readU16();
  const headers: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const name = readStr();
    headers[name] = readStr();
  }
  return headers;
}

/** Decodes the message in bytes[start, end). The body is a view into `bytes` unless copyBody is set
 * (for messages read straight out of a reusable receive buffer). */
export function decodeMessage(bytes: Uint8Array, start = 0, end = bytes.length, copyBody = false): WireMessage {
  dBytes = bytes;
  dBuf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  dAt = start;
  dEnd = end;
  need(5);
  const type = bytes[dAt]!;
  const id = ((bytes[dAt + 1]! << 24) | (bytes[dAt + 2]! << 16) | (bytes[dAt + 3]! << 8) | bytes[dAt + 4]!) >>> 0;
  dAt += 5;
  if (type === MessageType.Request || type === MessageType.StreamOpen) {
    const kind = readStr();
    const path = readStr();
    const headers = readHeaders();
    return { type: type as MessageType.Request, id, request: { kind, path, headers, body: takeBody(copyBody) } };
  }
  if (type >= MessageType.Response && type <= MessageType.StreamResume) {
    const status = readU16();
    const headers = readHeaders();
    return { type: type as MessageType.Response, id, response: { status, headers, body: takeBody(copyBody) } };
  }
  throw new TransportError(`unknown message type ${type}`, "protocol");
}

function takeBody(copy: boolean): Uint8Array {
  const bytes = dBytes;
  dBytes = EMPTY;
  dBuf = EMPTY_BUF;
  if (copy) return bytes.slice(dAt, dEnd);
  return bytes.subarray(dAt, dEnd);
}

/** "tcp://127.0.0.1:7000", "dpdk://10.0.0.1:7000" or "10.0.0.1:7000" → host and port. */
export function parseAddress(address: string): { host: string; port: number } {
  const bare = address.replace(/^[a-z]+:\/\//, "");
  const colon = bare.lastIndexOf(":");
  const port = Number(bare.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TransportError(`bad transport address "${address}" (want host:port)`, "unreachable");
  }
  return { host: bare.slice(0, colon), port };
}
