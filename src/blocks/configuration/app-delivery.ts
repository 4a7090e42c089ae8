// daprd's delivery of configuration updates to an app subscribed over HTTP: POST /configuration/{store}/{key}, once
// per key of the update, each with the whole update as JSON; under the component's inbound resiliency policy.
import type { AppChannel } from "../../app/channel.js";
import type { ConfigurationItems, ConfigurationUpdate, ConfigurationUpdateHandler } from "../../components/contracts/configuration.js";
import type { Logger } from "../../observability/logger.js";
import type { Resiliency } from "../../resiliency/index.js";
import { messageOf } from "../../errors.js";

/** Items as Go's encoding/json writes daprd's configuration.Item: empty value, version and metadata left out. */
export function itemsJson(items: ConfigurationItems): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, item] of Object.entries(items)) {
    const j: Record<string, unknown> = {};
    if (item.value) j.value = item.value;
    if (item.version) j.version = item.version;
    if (Object.keys(item.metadata ?? {}).length) j.metadata = item.metadata;
    out[key] = j;
  }
  return out;
}

export function appUpdateHandler(app: AppChannel, resiliency: Resiliency, logger: Logger, storeName: string): ConfigurationUpdateHandler {
  const target = { component: storeName, direction: "inbound" as const };
  const underPolicy = resiliency.policyFor(target);
  return async (update: ConfigurationUpdate) => {
    const body = new TextEncoder().encode(JSON.stringify({ id: update.id, items: itemsJson(update.items) }));
    for (const key of Object.keys(update.items)) {
      const post = async () => {
        const res = await app.invoke({ method: "POST", path: `configuration/${encodeURIComponent(storeName)}/${encodeURIComponent(key)}`, headers: { "content-type": "application/json" }, body });
        if (res.status !== 200) throw new Error(`the app answered ${res.status}`);
      };
      try {
        await (underPolicy ? resiliency.run(target, post) : post());
      } catch (err) {
        logger.warn("the app did not take a configuration update", { store: storeName, key, subscription: update.id, error: messageOf(err) });
      }
    }
  };
}
