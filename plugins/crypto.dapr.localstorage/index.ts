// crypto.dapr.localstorage: keys as files in a folder ("path"); the key name is the file name. ".json" files hold a
// JWK, ".pem" files a PEM key (PKCS#1, PKCS#8, SEC 1, PKIX or a certificate); other files are guessed: a JWK, a PEM
// key, or a symmetric key (raw bytes, or base64 / base64url of them).
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { CryptoKeyNotFoundError, CryptoOperationError, type SubtleCrypto } from "../../src/components/contracts/crypto.js";
import { parseKey } from "../../src/components/crypto/local-key.js";
import { localSubtleCrypto } from "../../src/components/crypto/local-subtle-crypto.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";

const FORMAT_BY_EXTENSION: Record<string, "jwk" | "pem"> = { ".json": "jwk", ".pem": "pem" };

export default definePlugin({
  type: "crypto.dapr.localstorage",
  metadata: {
    path: field.string({ required: true }),
  },
  async create(meta): Promise<SubtleCrypto> {
    const folder = resolve(meta.path);
    const info = await stat(folder).catch((err: Error) => {
      throw new Error(`metadata field "path": could not stat path '${folder}': ${err.message}`);
    });
    if (!info.isDirectory()) throw new Error(`metadata field "path": path '${folder}' is not a directory`);
    return localSubtleCrypto(async (keyName) => {
      if (keyName.includes("..")) throw new CryptoOperationError("invalid key path: cannot contain '..'");
      const file = join(folder, keyName);
      let raw: Uint8Array;
      try {
        raw = await readFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw new CryptoKeyNotFoundError(keyName);
        throw new CryptoOperationError(`failed to load key '${keyName}': ${(err as Error).message}`, { cause: err });
      }
      try {
        return parseKey(raw, FORMAT_BY_EXTENSION[extname(file).toLowerCase()]);
      } catch (err) {
        throw new CryptoOperationError(`failed to parse key '${keyName}': ${(err as Error).message}`, { cause: err });
      }
    });
  },
});
