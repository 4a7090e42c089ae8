// secretstores.local.file: secrets from a JSON file; nested objects flatten into "a:b" names.
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { SecretStore } from "../../src/components/contracts/secretstore.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { dictionary } from "../../src/dictionary.js";

/** Secret name → its keys and values. A Map, so a secret named "toString" or "__proto__" is just another name. */
type Secrets = Map<string, Record<string, string>>;

export default definePlugin({
  type: "secretstores.local.file",
  metadata: {
    secretsFile: field.string({ required: true }),
    nestedSeparator: field.string({ default: ":" }),
    /** When true, each top-level key is one secret holding many keys. */
    multiValued: field.bool({ default: false }),
  },
  async create(meta): Promise<SecretStore> {
    const file = isAbsolute(meta.secretsFile) ? meta.secretsFile : resolve(meta.secretsFile);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`metadata field "secretsFile": cannot read JSON from ${file}: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error(`metadata field "secretsFile": ${file} must hold a JSON object`);
    const secrets: Secrets = new Map();
    const sep = meta.nestedSeparator;
    if (meta.multiValued) {
      for (const [name, value] of Object.entries(doc)) {
        const flat = dictionary<string>();
        flatten(value, "", sep, flat);
        secrets.set(name, flat);
      }
    } else {
      const flat = dictionary<string>();
      flatten(doc, "", sep, flat);
      for (const [k, v] of Object.entries(flat)) secrets.set(k, { [k]: v });
    }
    return {
      async get(name) {
        return secrets.get(name);
      },
      async bulkGet() {
        return Object.fromEntries(secrets);
      },
      async close() {},
    };
  },
});

function flatten(value: unknown, prefix: string, sep: string, out: Record<string, string>) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}${sep}${k}` : k, sep, out);
  } else {
    out[prefix] = typeof value === "string" ? value : JSON.stringify(value);
  }
}
