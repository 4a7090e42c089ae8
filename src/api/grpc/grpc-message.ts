// The grpc-message header as the gRPC spec (PROTOCOL-HTTP2.md, "Status-Message") writes it: the message's UTF-8 bytes,
// with only those outside printable ASCII (0x20–0x7E) and "%" itself percent-encoded. encodeURIComponent encodes far
// more ("/" → %2F, ";" → %3B, " " → %20), which clients that decode with decodeURI (grpc-js) show to users as is.
// Every place that writes grpc-message goes through here.

const utf8 = new TextEncoder();

function hex(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message; // the usual case: nothing to encode
  let out = "";
  for (const byte of utf8.encode(message.toWellFormed())) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : hex(byte);
  }
  return out;
}

/** A grpc-message another encoder percent-encoded (Connect uses encodeURIComponent), written the spec's way. */
export function recodeGrpcMessage(encoded: string): string {
  let message: string;
  try {
    message = decodeURIComponent(encoded);
  } catch {
    return encoded; // not percent-encoding we can read: leave it as it came
  }
  return encodeGrpcMessage(message);
}

/** grpc-message in a header or trailer record, recoded; the rest as is. */
export function withSpecGrpcMessage<T extends Record<string, string>>(fields: T): T {
  const v = fields["grpc-message"];
  return v === undefined ? fields : { ...fields, "grpc-message": recodeGrpcMessage(v) };
}
