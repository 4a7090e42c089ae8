// The distributed lock building block: daprd's checks in daprd's order, the "lock||…" key prefix, the component's
// outbound resiliency policy, and plugin failures mapped to Dapr's errors.
import { Slot } from "../../runtime/block.js";
import type { ComponentRegistry } from "../../components/registry.js";
import type { Resiliency } from "../../resiliency/index.js";
import { LockRequestError, type LockStore, type UnlockStatus } from "../../components/contracts/lock.js";
import { errors, messageOf } from "../../errors.js";

const SEP = "||";

export interface TryLockInput {
  resourceId: string;
  lockOwner: string;
  expiryInSeconds: number;
}

export type UnlockInput = Omit<TryLockInput, "expiryInSeconds">;

export class LockBlock {
  constructor(private readonly registry: ComponentRegistry, private readonly appId: string, private readonly resiliency: Resiliency) {}

  async tryLock(storeName: string, input: TryLockInput): Promise<boolean> {
    if (!(input.expiryInSeconds > 0)) throw errors.malformedRequest(`ExpiryInSeconds is not positive in lock store ${storeName}`);
    const { store, key } = this.prepare(storeName, input, "tryLock");
    return this.call(storeName, "tryLock", () => store.tryLock({ ...input, resourceId: key }));
  }

  async unlock(storeName: string, input: UnlockInput): Promise<UnlockStatus> {
    const { store, key } = this.prepare(storeName, input, "unlock");
    return this.call(storeName, "unlock", () => store.unlock({ ...input, resourceId: key }));
  }

  private prepare(storeName: string, input: UnlockInput, op: Op): { store: LockStore; key: string } {
    if (this.registry.list("lock").length === 0) throw errors.lockStoreNotConfigured("lock store is not configured");
    if (!input.resourceId) throw errors.malformedRequest(`ResourceId is empty in lock store ${storeName}`);
    if (!input.lockOwner) throw errors.malformedRequest(`LockOwner is empty in lock store ${storeName}`);
    const store = this.registry.get<LockStore>("lock", storeName);
    if (!store) throw errors.lockStoreNotFound(`lock store ${storeName} not found`);
    if (input.resourceId.includes(SEP)) {
      throw failed(op, `input key/keyPrefix '${input.resourceId}' can't contain '${SEP}'`);
    }
    return { store, key: this.key(storeName, input.resourceId) };
  }

  /** daprd's lock key: the component's keyPrefix metadata (appid by default, name, none, or a string of its own). */
  private key(storeName: string, resourceId: string): string {
    const spec = this.registry.list("lock").find((c) => c.spec.name === storeName)!.spec;
    const setting = (spec.metadata.find((m) => m.name.toLowerCase() === "keyprefix")?.value?.trim() || "appid").toLowerCase();
    const prefix = setting === "appid" ? this.appId : setting === "name" ? storeName : setting === "none" ? "" : setting;
    return ["lock", ...(prefix ? [prefix] : []), resourceId].join(SEP);
  }

  private async call<T>(storeName: string, op: Op, fn: () => Promise<T>): Promise<T> {
    const target = { component: storeName };
    try {
      return await (this.resiliency.policyFor(target) ? this.resiliency.run(target, fn, { permanent: isRequestError }) : fn());
    } catch (err) {
      if (isRequestError(err)) throw errors.malformedRequest(messageOf(err));
      throw failed(op, messageOf(err));
    }
  }
}

type Op = "tryLock" | "unlock";

function failed(op: Op, detail: string) {
  return op === "tryLock" ? errors.tryLock(`failed to try acquiring lock: ${detail}`) : errors.unlock(`failed to release lock: ${detail}`);
}

/** The caller's mistake, found again by the plugin; by name, as a --plugins-path plugin raises its own class. */
function isRequestError(err: unknown): boolean {
  return err instanceof LockRequestError || (err instanceof Error && err.name === "LockRequestError");
}

/** The running lock block, for the API fronts. */
export const lockSlot = new Slot<LockBlock>("lock");
