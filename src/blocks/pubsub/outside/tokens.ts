// Tokens for subscribers outside the cluster: "v1.<claims>.<signature>", both base64url, the signature being
// HMAC-SHA256 over "v1.<claims>" with the node's --subscriber-token-secret. Claims name who it is for, the topics
// it may read ("pubsub/topic", a trailing "*" matches any suffix, "*" matches all) and when it expires.
import { createHmac, timingSafeEqual } from "node:crypto";

export interface SubscriberClaims {
  /** Who the token was issued to (logged, and shown in metadata). */
  sub: string;
  /** "pubsub/topic" patterns this token may subscribe to. */
  topics: string[];
  /** Expiry, Unix seconds; absent = no expiry. */
  exp?: number;
}

export class TokenError extends Error {}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function sign(secret: string, body: string): string {
  return createHmac("sha256", secret).update(body).digest("base64url");
}

export function signSubscriberToken(secret: string, claims: SubscriberClaims): string {
  const body = `v1.${b64u(JSON.stringify(claims))}`;
  return `${body}.${sign(secret, body)}`;
}

export function verifySubscriberToken(secret: string, token: string, nowSeconds = Date.now() / 1000): SubscriberClaims {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== "v1") throw new TokenError("malformed subscriber token");
  const body = `${parts[0]}.${parts[1]}`;
  const want = Buffer.from(sign(secret, body));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw new TokenError("subscriber token signature does not match");
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    throw new TokenError("subscriber token claims are not JSON");
  }
  const claims = checkClaims(json);
  if (claims.exp !== undefined && claims.exp < nowSeconds) throw new TokenError("subscriber token has expired");
  return claims;
}

/** "*", or "pubsub/topic" where the topic may end in "*". */
export function isTopicPattern(p: unknown): p is string {
  return typeof p === "string" && (p === "*" || /^[^/\s]+\/\S+$/.test(p));
}

/** The claims of a correctly signed token are still checked: a token is only as good as its claims' shapes. */
function checkClaims(json: unknown): SubscriberClaims {
  if (!json || typeof json !== "object" || Array.isArray(json)) throw new TokenError("subscriber token claims are not a JSON object");
  const c = json as Record<string, unknown>;
  if (typeof c.sub !== "string" || c.sub === "") throw new TokenError('subscriber token claim "sub" must be a non-empty string');
  if (!Array.isArray(c.topics) || c.topics.length === 0) throw new TokenError('subscriber token claim "topics" must be a non-empty list');
  const bad = c.topics.find((t) => !isTopicPattern(t));
  if (bad !== undefined) throw new TokenError(`subscriber token claim "topics" holds ${JSON.stringify(bad)}: expected "pubsub/topic", "pubsub/prefix*" or "*"`);
  if (c.exp !== undefined && (typeof c.exp !== "number" || !Number.isFinite(c.exp))) throw new TokenError('subscriber token claim "exp" must be a number (Unix seconds)');
  return { sub: c.sub, topics: c.topics as string[], ...(c.exp !== undefined ? { exp: c.exp as number } : {}) };
}

export function tokenAllows(claims: SubscriberClaims, pubsubName: string, topic: string): boolean {
  const want = `${pubsubName}/${topic}`;
  return claims.topics.some((p) => p === "*" || p === want || (p.endsWith("*") && want.startsWith(p.slice(0, -1))));
}
