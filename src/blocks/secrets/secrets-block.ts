// The secrets building block: read one secret or all of them from a secret store component.
import { Slot } from "../../runtime/block.js";
import type { SecretStore } from "../../components/contracts/secretstore.js";
import type { ComponentRegistry } from "../../components/registry.js";
import { errors, messageOf } from "../../errors.js";

export class SecretsBlock {
  constructor(private readonly registry: ComponentRegistry) {}

  private store(name: string): SecretStore {
    const store = this.registry.get<SecretStore>("secretstores", name);
    if (store) return store;
    if (this.registry.list("secretstores").length === 0) throw errors.secretStoresNotConfigured("secret store is not configured");
    throw errors.secretStoreNotFound(`failed finding secret store with key ${name}`);
  }

  async get(storeName: string, key: string, metadata: Record<string, string> = {}): Promise<Record<string, string>> {
    if (!key) throw errors.malformedRequest(`secret store ${storeName}: secret name must not be empty`);
    const store = this.store(storeName);
    let secret;
    try {
      secret = await store.get(key, metadata);
    } catch (err) {
      throw errors.secretGet(`failed getting secret with key ${key} from secret store ${storeName}: ${messageOf(err)}`);
    }
    if (!secret) throw errors.secretGet(`failed getting secret with key ${key} from secret store ${storeName}: secret not found`);
    return secret;
  }

  async bulkGet(storeName: string, metadata: Record<string, string> = {}): Promise<Record<string, Record<string, string>>> {
    const store = this.store(storeName);
    try {
      return await store.bulkGet(metadata);
    } catch (err) {
      throw errors.secretGet(`failed getting secrets from secret store ${storeName}: ${messageOf(err)}`);
    }
  }
}

/** The running secrets block, for the API fronts. */
export const secretsSlot = new Slot<SecretsBlock>("secrets");
