// HTTP: POST /v1.0-alpha1/lock/{store} and /v1.0-alpha1/unlock/{store} (daprd's protojson bodies).
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { lockSlot, type LockBlock, type TryLockInput } from "../../../blocks/lock/lock-block.js";
import { UNLOCK_STATUS_CODES } from "../../../components/contracts/lock.js";
import { errors } from "../../../errors.js";
import { json, jsonType, readJson } from "../respond.js";

export function lockEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const ep = (name: string, route: string, handler: HttpEndpoint["handler"]): HttpEndpoint =>
    ({ name, methods: ["POST"], route, version: "v1.0-alpha1", group: "lock", handler, rawBody: true });
  return [
    ep("TryLock", "/lock/:store", async ({ params, request }) => {
      const input = await lockInput(request, "TryLock", true);
      return json({ success: await lockOf(ctx).tryLock(params.store, input) });
    }),
    ep("Unlock", "/unlock/:store", async ({ params, request }) => {
      const input = await lockInput(request, "Unlock", false);
      return json({ status: UNLOCK_STATUS_CODES[await lockOf(ctx).unlock(params.store, input)] });
    }),
  ];
}

export function lockOf(ctx: ApiContext): LockBlock {
  const block = ctx.blocks.get(lockSlot);
  if (!block) throw errors.lockStoreNotConfigured("lock store is not configured");
  return block;
}

/** The body's fields under their JSON or proto names, as protojson reads them. */
async function lockInput(request: Request, what: string, withExpiry: boolean): Promise<TryLockInput> {
  const body = await readJson(request, what);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw errors.malformedRequest(`${what}: the body must be a JSON object, got ${jsonType(body)}`);
  const field = (json: string, proto: string): unknown => (body as Record<string, unknown>)[json] ?? (body as Record<string, unknown>)[proto];
  const text = (json: string, proto: string): string => {
    const v = field(json, proto) ?? "";
    if (typeof v !== "string") throw errors.malformedRequest(`${what}: "${json}" must be a string, got ${jsonType(v)}`);
    return v;
  };
  return {
    resourceId: text("resourceId", "resource_id"),
    lockOwner: text("lockOwner", "lock_owner"),
    expiryInSeconds: withExpiry ? int32(field("expiryInSeconds", "expiry_in_seconds"), what) : 0,
  };
}

/** protojson's int32: a whole number, or a string holding one. */
function int32(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || Math.abs(n) > 2 ** 31 - 1) {
    throw errors.malformedRequest(`${what}: "expiryInSeconds" must be a 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}
