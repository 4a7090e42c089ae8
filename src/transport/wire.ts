// Binary encoding of one request or response, shared by the kernel and DPDK transports.
// Layout: u8 type | u32 id | (request: str kind, str path | response: u16 status) | u16 header count,
// (str name, str value)* | body to the end. str = u16 byte length + UTF-8.
import { TransportError, type TransportRequest, type TransportResponse } from "./transport";

export const enum MessageType {
  Request = 1,
  Response = 2,
}

export type WireMessage =
  | { type: MessageType.Request; id: number; request: TransportRequest }
  | { type: MessageType.Response; id: number; response: TransportResponse };

/** An encoded message: a small head and the body, kept apart so the body is never copied to encode it. */
export interface EncodedMessage {
  head: Uint8Array;
  body: Uint8Array;
  length: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function utf8(s: string): Uint8Array {
  const bytes = encoder.encode(s);
  if (bytes.length > 0xffff) throw new TransportError(`string of ${bytes.length} bytes exceeds 65535`, "too-large");
  return bytes;
}

function encodeHead(first: Uint8Array[], status: number | undefined, headers: Record<string, string>, type: MessageType, id: number) {
  const parts: Uint8Array[] = [...first];
  const names = Object.keys(headers);
  for (const name of names) parts.push(utf8(name), utf8(headers[name] ?? ""));
  let size = 1 + 4 + (status === undefined ? 0 : 2) + 2;
  for (const p of parts) size += 2 + p.length;
  const head = new Uint8Array(size);
  const view = new DataView(head.buffer);
  view.setUint8(0, type);
  view.setUint32(1, id >>> 0);
  let at = 5;
  if (status !== undefined) {
    view.setUint16(at, status);
    at += 2;
  }
  const writeStr = (p: Uint8Array) => {
    view.setUint16(at, p.length);
    head.set(p, at + 2);
    at += 2 + p.length;
  };
  for (const p of first) writeStr(p);
  view.setUint16(at, names.length);
  at += 2;
  for (let i = first.length; i < parts.length; i++) writeStr(parts[i]!);
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

/** Copies bytes [from, from+len) of the encoded message into dst at dstOffset. */
export function copyEncoded(msg: EncodedMessage, from: number, len: number, dst: Uint8Array, dstOffset: number): void {
  const headLen = msg.head.length;
  if (from < headLen) {
    const n = Math.min(len, headLen - from);
    dst.set(msg.head.subarray(from, from + n), dstOffset);
    from += n;
    len -= n;
    dstOffset += n;
  }
  if (len > 0) dst.set(msg.body.subarray(from - headLen, from - headLen + len), dstOffset);
}

/** Decodes a whole message; the body is a view into `bytes`, not a copy. */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new TransportError("truncated message", "protocol");
  };
  const readStr = () => {
    need(2);
    const len = view.getUint16(at);
    need(2 + len);
    const s = decoder.decode(bytes.subarray(at + 2, at + 2 + len));
    at += 2 + len;
    return s;
  };
  need(5);
  const type = view.getUint8(0);
  const id = view.getUint32(1);
  at = 5;
  if (type === MessageType.Request) {
    const kind = readStr();
    const path = readStr();
    const headers = readHeaders();
    return { type, id, request: { kind, path, headers, body: bytes.subarray(at) } };
  }
  if (type === MessageType.Response) {
    need(2);
    const status = view.getUint16(at);
    at += 2;
    const headers = readHeaders();
    return { type, id, response: { status, headers, body: bytes.subarray(at) } };
  }
  throw new TransportError(`unknown message type ${type}`, "protocol");

  function readHeaders(): Record<string, string> {
    need(2);
    const count = view.getUint16(at);
    at += 2;
    const headers: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const name = readStr();
      headers[name] = readStr();
    }
    return headers;
  }
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
