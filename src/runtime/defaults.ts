// What `rapr run` loads when no --resources-path is given: a persistent state store, an in-process broker, a lock
// store and a configuration store (both files in --data-dir), as `dapr init` gives a new user.
import type { ComponentSpec } from "../components/component.js";

export function embeddedDefaults(availableTypes: Set<string>): ComponentSpec[] {
  const base = { version: "v1", ignoreErrors: false, scopes: [], source: "embedded default" };
  const out: ComponentSpec[] = [
    {
      ...base,
      name: "statestore",
      type: "state.sqlite",
      metadata: [
        { name: "connectionString", value: "state.sqlite" },
        { name: "actorStateStore", value: "true" },
      ],
    },
  ];
  if (availableTypes.has("pubsub.in-memory")) out.push({ ...base, name: "pubsub", type: "pubsub.in-memory", metadata: [] });
  if (availableTypes.has("lock.sqlite")) out.push({ ...base, name: "lockstore", type: "lock.sqlite", metadata: [] });
  if (availableTypes.has("configuration.local.file")) out.push({ ...base, name: "configstore", type: "configuration.local.file", metadata: [] });
  return out;
}
