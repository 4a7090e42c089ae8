// secretstores.local.env: secrets are the sidecar's environment variables.
import type { SecretStore } from "../../src/components/contracts/secretstore.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { ownValue } from "../../src/dictionary.js";

export default definePlugin({
  type: "secretstores.local.env",
  metadata: {
    /** Only variables starting with this prefix are visible, under their name without it. */
    prefix: field.string({ default: "" }),
  },
  async create(meta): Promise<SecretStore> {
    const visible = () =>
      Object.entries(process.env)
        .filter(([k, v]) => v !== undefined && k.startsWith(meta.prefix))
        .map(([k, v]) => [k.slice(meta.prefix.length), v as string] as const);
    return {
      async get(name) {
        // process.env inherits Object.prototype: "toString" & co. are not variables.
        const value = ownValue(process.env, meta.prefix + name);
        return value === undefined ? undefined : { [name]: value };
      },
      async bulkGet() {
        return Object.fromEntries(visible().map(([k, v]) => [k, { [k]: v }]));
      },
      async close() {},
    };
  },
});
