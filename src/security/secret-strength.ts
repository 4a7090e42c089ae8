// How strong a shared secret is, for secrets that outsiders can test guesses against offline (a public DHT
// topic derived from it, an HMAC-signed token handed out): a weak one is refused at start.

export const MIN_SECRET_CHARS = 16;
export const MIN_SECRET_BITS = 64;
/** The estimate reads this many characters at most (its pattern search is quadratic). */
const ESTIMATE_CHARS = 256;

/**
 * "too weak (…)" when `secret` is shorter than MIN_SECRET_CHARS or estimated below MIN_SECRET_BITS, else
 * undefined. The estimate is the Shannon entropy of its own characters times the length of its shortest
 * repeating pattern: repetition and tiny alphabets score low, random text ~6 bits a character; a dictionary
 * phrase can still pass.
 */
export function secretWeakness(secret: string): string | undefined {
  const chars = [...secret.normalize("NFC")];
  const head = chars.slice(0, ESTIMATE_CHARS);
  const pattern = head.slice(0, shortestPeriod(head));
  const counts = new Map<string, number>();
  for (const c of pattern) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) bitsPerChar -= (n / pattern.length) * Math.log2(n / pattern.length);
  const bits = Math.floor(bitsPerChar * pattern.length);
  if (chars.length >= MIN_SECRET_CHARS && bits >= MIN_SECRET_BITS) return undefined;
  return `too weak (length ${chars.length}, about ${bits} bits; at least ${MIN_SECRET_CHARS} characters and ${MIN_SECRET_BITS} bits are needed)`;
}

/** The smallest p with chars[i] === chars[i - p] for every i >= p ("abcab" → 3; no repetition → length). */
function shortestPeriod(chars: string[]): number {
  for (let p = 1; p < chars.length; p++) {
    let i = p;
    while (i < chars.length && chars[i] === chars[i - p]) i++;
    if (i === chars.length) return p;
  }
  return chars.length;
}
