// The one form of an invocation's method path, used both to match access control and as what the app receives,
// so a path the policy did not see can never reach the app. As daprd (pkg/messaging/method NormalizeMethod, before
// that pkg/acl normalizeOperation): a "?", "#" or control character is refused, raw or escaped, and so is a
// broken escape; escapes of unreserved characters (RFC 3986 2.3) and of "/" are decoded, the other escapes keep
// their meaning with upper-case hex, characters a path may not hold raw (space, non-ASCII, "\", …) are escaped;
// dot segments and empty segments are removed, ".." never climbing above the root, and so is a trailing "/".

export class InvalidOperationError extends Error {}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** What a path segment holds raw (RFC 3986 pchar without "%", which is handled apart). */
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** Nothing to decode, escape or refuse: the common case. */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/** `method` as written by the caller (with or without a leading "/") → the normalised path without a leading
 * "/" ("" for the root). Throws InvalidOperationError for what cannot be a method. */
export function normalizeOperation(method: string): string {
  const segments: string[] = [];
  for (const raw of canonicalEscapes(method).split("/")) {
    if (raw === "" || raw === ".") continue;
    if (raw === "..") segments.pop();
    else segments.push(raw);
  }
  return segments.join("/");
}

function canonicalEscapes(method: string): string {
  if (PLAIN.test(method)) return method;
  let out = "";
  for (let i = 0; i < method.length; i++) {
    const c = method[i]!;
    if (forbidden(c)) throw new InvalidOperationError(`the method ${JSON.stringify(method)} holds a forbidden character (${JSON.stringify(c)}) at position ${i}`);
    if (c === "%") {
      const hex = method.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw new InvalidOperationError(`the method ${JSON.stringify(method)} holds a broken percent-escape at position ${i}`);
      const decoded = String.fromCharCode(parseInt(hex, 16));
      if (forbidden(decoded)) throw new InvalidOperationError(`the method ${JSON.stringify(method)} holds an escaped forbidden character (%${hex}) at position ${i}`);
      out += UNRESERVED.test(decoded) || decoded === "/" ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (c === "/" || PCHAR.test(c)) {
      out += c;
    } else {
      const point = method.codePointAt(i)!;
      if (point > 0xffff) i++;
      if (point >= 0xd800 && point <= 0xdfff) throw new InvalidOperationError(`the method ${JSON.stringify(method)} holds a lone surrogate at position ${i}`);
      out += encodeURIComponent(String.fromCodePoint(point));
    }
  }
  return out;
}

function forbidden(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f || c === "?" || c === "#";
}

/** Printable ASCII but space, '"', "#", "<" and ">": what a URL parser leaves raw in a query. */
const PLAIN_QUERY = /^[!\x24-\x3b=\x3f-\x7e]*$/;

/** A raw query string (without "?") as it may go into a request line: the characters a URL parser would escape
 * (space, non-ASCII, …) are escaped, the rest is left as it is, and a control character is refused (it could end
 * the request line). */
export function normalizeQuery(query: string): string {
  if (PLAIN_QUERY.test(query)) return query;
  let out = "";
  for (const c of query) {
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) throw new InvalidOperationError(`the query ${JSON.stringify(query)} holds a control character`);
    out += PLAIN_QUERY.test(c) ? c : encodeURIComponent(c);
  }
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP method (an RFC 9110 token), upper-cased. */
export function normalizeVerb(verb: string): string {
  if (!TOKEN.test(verb)) throw new InvalidOperationError(`${JSON.stringify(verb)} is not an HTTP method`);
  return verb.toUpperCase();
}
