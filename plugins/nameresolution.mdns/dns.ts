// The DNS wire format subset mDNS needs here: one question, TXT answers (RFC 1035 §4, RFC 6762 §18).

export const TYPE_TXT = 16;
const CLASS_IN = 1;
const CACHE_FLUSH = 0x8000;

export interface TxtAnswer {
  name: string;
  ttl: number;
  texts: string[];
}

export type DnsMessage = { kind: "query"; name: string; type: number } | { kind: "response"; answers: TxtAnswer[] };

const enc = new TextEncoder();
const dec = new TextDecoder();

function encodeName(name: string): Uint8Array {
  const parts = name.split(".").filter(Boolean).map((l) => enc.encode(l));
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 1));
  let at = 0;
  for (const p of parts) {
    if (p.length > 63) throw new Error(`DNS label over 63 bytes in ${name}`);
    out[at++] = p.length;
    out.set(p, at);
    at += p.length;
  }
  out[at] = 0;
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u16(n: number): Uint8Array {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

export function encodeQuery(name: string, type = TYPE_TXT): Uint8Array {
  return concat([new Uint8Array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), encodeName(name), u16(type), u16(CLASS_IN)]);
}

export function encodeTxtResponse(answers: TxtAnswer[]): Uint8Array {
  const header = concat([u16(0), u16(0x8400), u16(0), u16(answers.length), u16(0), u16(0)]);
  const records = answers.map((a) => {
    const rdata = concat(a.texts.map((t) => {
      const b = enc.encode(t);
      if (b.length > 255) throw new Error("TXT string over 255 bytes");
      return concat([new Uint8Array([b.length]), b]);
    }));
    const ttl = new Uint8Array([(a.ttl >>> 24) & 0xff, (a.ttl >>> 16) & 0xff, (a.ttl >>> 8) & 0xff, a.ttl & 0xff]);
    return concat([encodeName(a.name), u16(TYPE_TXT), u16(CLASS_IN | CACHE_FLUSH), ttl, u16(rdata.length), rdata]);
  });
  return concat([header, ...records]);
}

/** Reads a (possibly compressed) name at `at`; returns it and the offset after it. */
function readName(b: Uint8Array, at: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 32; hops++) {
    if (at >= b.length) throw new Error("truncated name");
    const len = b[at]!;
    if (len === 0) return [labels.join("."), end >= 0 ? end : at + 1];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = at + 2;
      at = ((len & 0x3f) << 8) | b[at + 1]!;
      continue;
    }
    labels.push(dec.decode(b.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  throw new Error("name compression loop");
}

/** Decodes a packet; anything malformed or uninteresting is undefined (mDNS ports see all kinds of traffic). */
export function decodeMessage(b: Uint8Array): DnsMessage | undefined {
  try {
    if (b.length < 12) return undefined;
    const flags = (b[2]! << 8) | b[3]!;
    const qd = (b[4]! << 8) | b[5]!;
    const an = (b[6]! << 8) | b[7]!;
    let at = 12;
    const questions: { name: string; type: number }[] = [];
    for (let i = 0; i < qd; i++) {
      const [name, next] = readName(b, at);
      questions.push({ name: name.toLowerCase(), type: (b[next]! << 8) | b[next + 1]! });
      at = next + 4;
    }
    if (!(flags & 0x8000)) return questions[0] ? { kind: "query", ...questions[0] } : undefined;
    const answers: TxtAnswer[] = [];
    for (let i = 0; i < an; i++) {
      const [name, next] = readName(b, at);
      const type = (b[next]! << 8) | b[next + 1]!;
      const ttl = ((b[next + 4]! << 24) | (b[next + 5]! << 16) | (b[next + 6]! << 8) | b[next + 7]!) >>> 0;
      const rdlen = (b[next + 8]! << 8) | b[next + 9]!;
      const rdata = b.subarray(next + 10, next + 10 + rdlen);
      at = next + 10 + rdlen;
      if (type !== TYPE_TXT) continue;
      const texts: string[] = [];
      for (let j = 0; j < rdata.length; ) {
        const l = rdata[j]!;
        texts.push(dec.decode(rdata.subarray(j + 1, j + 1 + l)));
        j += 1 + l;
      }
      answers.push({ name: name.toLowerCase(), ttl, texts });
    }
    return { kind: "response", answers };
  } catch {
    return undefined;
  }
}
