// Asks the app what it subscribes to: HTTP GET /dapr/subscribe or gRPC AppCallback.ListTopicSubscriptions.
import type { AppChannel } from "../../app/channel.js";
import { messageOf } from "../../errors.js";
import { parseJson } from "../../json.js";
import type { Logger } from "../../observability/logger.js";
import { normalizePath, parseProgrammatic, type SubscriptionSpec } from "./subscriptions.js";

const ATTEMPTS = 5;

export async function loadAppSubscriptions(app: AppChannel, log: Logger, signal: AbortSignal): Promise<SubscriptionSpec[]> {
  for (let attempt = 1; attempt <= ATTEMPTS && !signal.aborted; attempt++) {
    try {
      return app.protocol === "grpc" ? await fromGrpc(app) : await fromHttp(app);
    } catch (err) {
      log.warn("could not read the app's subscriptions", { attempt, error: messageOf(err) });
      await Bun.sleep(200 * attempt);
    }
  }
  return [];
}

async function fromHttp(app: AppChannel): Promise<SubscriptionSpec[]> {
  const res = await app.http({ method: "GET", path: "dapr/subscribe", headers: { accept: "application/json" }, signal: AbortSignal.timeout(10_000) });
  if (res.status === 404 || res.body.length === 0) return [];
  if (res.status < 200 || res.status > 299) throw new Error(`GET /dapr/subscribe answered ${res.status}`);
  return parseProgrammatic(parseJson(new TextDecoder().decode(res.body)));
}

async function fromGrpc(app: AppChannel): Promise<SubscriptionSpec[]> {
  if (!app.callback) return [];
  let res;
  try {
    res = await app.callback.listTopicSubscriptions({}, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    if (/unimplemented/i.test(messageOf(err))) return [];
    throw err;
  }
  return res.subscriptions.map((s) => {
    const rules = (s.routes?.rules ?? []).filter((r) => r.match).map((r) => ({ match: r.match, path: normalizePath(r.path) }));
    const defaultRule = s.routes?.rules.find((r) => !r.match);
    const defaultPath = s.routes?.default || defaultRule?.path || (rules.length ? undefined : s.topic);
    return {
      pubsubName: s.pubsubName,
      topic: s.topic,
      rules,
      defaultPath: defaultPath === undefined ? undefined : normalizePath(defaultPath),
      deadLetterTopic: s.deadLetterTopic || undefined,
      metadata: s.metadata,
      bulk: s.bulkSubscribe?.enabled ? { enabled: true, maxMessagesCount: s.bulkSubscribe.maxMessagesCount || 100, maxAwaitDurationMs: s.bulkSubscribe.maxAwaitDurationMs || 1000 } : undefined,
      kind: "programmatic" as const,
    };
  });
}
