// The flags pub/sub adds to `rapr run`, and the options they make.
import { UsageError, type FlagSpec, type FlagValues } from "../../cli/flags.js";
import { secretWeakness } from "../../security/secret-strength.js";

export const pubsubRunFlags: FlagSpec[] = [
  { name: "subscriber-token-secret", type: "string", help: "HMAC secret for tokens of subscribers outside the cluster (env RAPR_SUBSCRIBER_TOKEN_SECRET); none: outside subscribers are refused" },
  { name: "subscriber-buffer", type: "int", help: "events queued per outside subscriber before new ones are dropped", default: 256, min: 1 },
];

export interface PubsubOptions {
  /** HMAC secret of outside subscribers' tokens (undefined: they are refused). */
  subscriberTokenSecret?: string;
  subscriberBuffer: number;
}

/**
 * A weak --subscriber-token-secret stops `rapr run` before anything starts (exit 2): every token handed to a browser
 * or device is an HMAC under it, so its holder can test guesses offline and mint tokens for any topic.
 */
export function pubsubOptions(values: FlagValues, env: Record<string, string | undefined>): PubsubOptions {
  const secret = (values["subscriber-token-secret"] as string | undefined) || env.RAPR_SUBSCRIBER_TOKEN_SECRET || undefined;
  const weakness = secret && secretWeakness(secret);
  if (weakness) throw new UsageError(`subscriber token secret ${weakness}; make one with: rapr cluster-secret`);
  return { subscriberTokenSecret: secret, subscriberBuffer: (values["subscriber-buffer"] as number | undefined) ?? 256 };
}
