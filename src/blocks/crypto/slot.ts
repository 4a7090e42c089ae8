// The crypto block as the API fronts reach it.
import type { ApiContext } from "../../api/context.js";
import { Slot } from "../../runtime/block.js";
import type { CryptoBlock } from "./crypto-block.js";
import { errors } from "../../errors.js";

export const cryptoSlot = new Slot<CryptoBlock>("crypto");

export function cryptoOf(ctx: ApiContext): CryptoBlock {
  const block = ctx.blocks.get(cryptoSlot);
  if (!block) throw errors.cryptoProvidersNotConfigured("crypto providers not configured");
  return block;
}
