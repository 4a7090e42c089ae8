// The flags pub/sub adds to `rapr run` (they land in RuntimeConfig.extra).
import type { FlagSpec } from "../../cli/flags.js";

export const pubsubRunFlags: FlagSpec[] = [
  { name: "subscriber-token-secret", type: "string", help: "HMAC secret for tokens of subscribers outside the cluster (env RAPR_SUBSCRIBER_TOKEN_SECRET); none: outside subscribers are refused" },
  { name: "subscriber-buffer", type: "int", help: "events queued per outside subscriber before new ones are dropped", default: 256, min: 1 },
];
