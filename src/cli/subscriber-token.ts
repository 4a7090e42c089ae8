// `rapr subscriber-token`: mints a token for a subscriber outside the cluster (browser, device).
import { isTopicPattern, signSubscriberToken } from "../blocks/pubsub/outside/tokens.js";
import { parseFlags, UsageError, type FlagSpec } from "./flags.js";

export const subscriberTokenFlags: FlagSpec[] = [
  { name: "secret", type: "string", help: "the nodes' --subscriber-token-secret (default: $RAPR_SUBSCRIBER_TOKEN_SECRET)" },
  { name: "subject", type: "string", help: "who the token is for (logged and shown in metadata)" },
  { name: "topics", type: "csv", help: 'topics it may read: "pubsub/topic", "pubsub/prefix*" or "*"', default: [] },
  { name: "ttl", type: "int", help: "seconds until it expires (0: never)", default: 3600, min: 0 },
];

export function subscriberToken(args: string[], env: Record<string, string | undefined>, now = Date.now()): string {
  const { values, rest } = parseFlags(subscriberTokenFlags, args, "subscriber-token");
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const secret = (values.secret as string | undefined) ?? env.RAPR_SUBSCRIBER_TOKEN_SECRET;
  if (!secret) throw new UsageError("flag --secret (or RAPR_SUBSCRIBER_TOKEN_SECRET) is required");
  const sub = values.subject as string | undefined;
  if (!sub) throw new UsageError("flag --subject is required");
  const topics = values.topics as string[];
  if (topics.length === 0) throw new UsageError('flag --topics is required, e.g. --topics pubsub/orders,pubsub/feed.*');
  const bad = topics.find((t) => !isTopicPattern(t));
  if (bad) throw new UsageError(`invalid value "${bad}" in --topics: expected "pubsub/topic", "pubsub/prefix*" or "*"`);
  const ttl = values.ttl as number;
  return signSubscriberToken(secret, { sub, topics, ...(ttl > 0 ? { exp: Math.floor(now / 1000) + ttl } : {}) });
}
