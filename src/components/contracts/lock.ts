// The distributed lock contract (Dapr's lock.Store). Every lock plugin implements it; src/conformance/lock.ts
// proves it. A lock is a resource id held by one owner until the owner unlocks it or its expiry passes; trying to
// take a held lock fails at once (no waiting, no re-entry: the holder itself gets false too). The block turns the
// app's resource id into the stored key ("lock||{appId}||{resourceId}", Dapr's keyPrefix strategies) before calling.
import type { Component } from "../plugin.js";

export interface TryLockRequest {
  resourceId: string;
  lockOwner: string;
  /** Whole seconds, 1 to 2^31-1. */
  expiryInSeconds: number;
  metadata?: Record<string, string>;
}

export interface UnlockRequest {
  resourceId: string;
  lockOwner: string;
  metadata?: Record<string, string>;
}

/** Dapr's UnlockResponse.Status names; UNLOCK_STATUS_CODES holds the numbers the HTTP and gRPC APIs answer with. */
export type UnlockStatus = "SUCCESS" | "LOCK_DOES_NOT_EXIST" | "LOCK_BELONGS_TO_OTHERS" | "INTERNAL_ERROR";

export const UNLOCK_STATUS_CODES: Record<UnlockStatus, number> = {
  SUCCESS: 0,
  LOCK_DOES_NOT_EXIST: 1,
  LOCK_BELONGS_TO_OTHERS: 2,
  INTERNAL_ERROR: 3,
};

export interface LockStore extends Component {
  /** True when `lockOwner` now holds the lock; false when anyone (it included) holds it and it has not expired.
   * Throws LockRequestError for bad input, any other error when the backend failed (nothing was taken). */
  tryLock(req: TryLockRequest): Promise<boolean>;
  /** Releases the lock when `lockOwner` holds it. An expired lock does not exist. Throws LockRequestError for bad
   * input, any other error when the backend failed (the block answers INTERNAL_ERROR then). */
  unlock(req: UnlockRequest): Promise<UnlockStatus>;
}

/** The request can never succeed (empty resource id or owner, expiry not a positive whole number of seconds). */
export class LockRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LockRequestError";
  }
}

const MAX_EXPIRY_SECONDS = 2 ** 31 - 1;

/** Dapr's checks, in Dapr's order and words; every plugin runs them so a plugin is safe without the block. */
export function checkTryLock(req: TryLockRequest, store: string): void {
  const e = req.expiryInSeconds;
  if (!Number.isInteger(e) || e <= 0) throw new LockRequestError(`ExpiryInSeconds is not positive in lock store ${store}`);
  if (e > MAX_EXPIRY_SECONDS) throw new LockRequestError(`ExpiryInSeconds is larger than ${MAX_EXPIRY_SECONDS} in lock store ${store}`);
  checkUnlock(req, store);
}

export function checkUnlock(req: UnlockRequest, store: string): void {
  if (typeof req.resourceId !== "string" || req.resourceId === "") throw new LockRequestError(`ResourceId is empty in lock store ${store}`);
  if (typeof req.lockOwner !== "string" || req.lockOwner === "") throw new LockRequestError(`LockOwner is empty in lock store ${store}`);
}
