// crypto.dapr.jwks: keys from a JSON Web Key Set, found by "kid". Metadata "jwks" is the JWKS itself (JSON, optionally
// base64), a path to a file holding it (reloaded when the file changes), or an http(s) URL (fetched at start, and
// again when a key is missing, at most once per "minRefreshInterval").
import { existsSync, statSync, watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { CryptoKeyNotFoundError, type SubtleCrypto } from "../../src/components/contracts/crypto.js";
import { keyFromJwk, type LocalKey } from "../../src/components/crypto/local-key.js";
import { localSubtleCrypto } from "../../src/components/crypto/local-subtle-crypto.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";

type KeySet = Map<string, LocalKey>;

/** Parses a JWKS document ({"keys": [...]}); every key must be valid, and keys without a "kid" cannot be named. */
export function parseJwks(text: string): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`invalid JWKS: ${(err as Error).message}`);
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new Error('invalid JWKS: no "keys" array');
  const set: KeySet = new Map();
  keys.forEach((jwk, i) => {
    let key: LocalKey;
    try {
      key = keyFromJwk(jwk);
    } catch (err) {
      throw new Error(`invalid JWKS: key ${i}: ${(err as Error).message}`);
    }
    if (key.kid) set.set(key.kid, key);
  });
  return set;
}

/** The JWKS passed inline: JSON, or standard base64 of it (padding optional). */
function inlineJwks(value: string): string {
  if (value.trimStart().startsWith("{")) return value;
  const text = value.replace(/=+$/, "");
  if (/^[A-Za-z0-9+/]+$/.test(text)) return Buffer.from(text, "base64").toString("utf8");
  throw new Error('metadata field "jwks": not a URL, path to local file, or JSON value (optionally base64-encoded)');
}

export default definePlugin({
  type: "crypto.dapr.jwks",
  metadata: {
    jwks: field.string({ required: true, sensitive: true }),
    requestTimeout: field.duration({ default: 30_000 }),
    minRefreshInterval: field.duration({ default: 600_000 }),
  },
  async create(meta, ctx): Promise<SubtleCrypto> {
    const location = meta.jwks;
    const isUrl = /^https?:\/\//.test(location);
    const isFile = !isUrl && existsSync(location) && statSync(location).isFile();
    const minRefresh = Math.max(meta.minRefreshInterval, 1000);

    const load = async (): Promise<KeySet> => {
      if (isUrl) {
        const res = await fetch(location, { signal: AbortSignal.timeout(meta.requestTimeout), redirect: "follow" });
        if (!res.ok) throw new Error(`failed to fetch JWKS from ${location}: HTTP ${res.status}`);
        return parseJwks(await res.text());
      }
      if (isFile) return parseJwks(await readFile(location, "utf8"));
      return parseJwks(inlineJwks(location));
    };

    let keys = await load();
    let loadedAt = Date.now();
    let refreshing: Promise<void> | undefined;
    const refresh = () =>
      (refreshing ??= load()
        .then((k) => {
          keys = k;
        })
        .catch((err) => ctx.logger.warn(`crypto.dapr.jwks "${ctx.name}": keeping the previous key set: ${(err as Error).message}`))
        .finally(() => {
          loadedAt = Date.now();
          refreshing = undefined;
        }));

    let watcher: FSWatcher | undefined;
    if (isFile) {
      watcher = watch(location, { persistent: false }, () => void refresh());
      watcher.on("error", () => {});
    }

    return localSubtleCrypto(
      async (kid) => {
        let key = keys.get(kid);
        if (!key && isUrl && Date.now() - loadedAt >= minRefresh) {
          await refresh();
          key = keys.get(kid);
        }
        if (!key) throw new CryptoKeyNotFoundError(kid);
        return key;
      },
      async () => {
        watcher?.close();
      },
    );
  },
});
