// The running ActorsBlock, as the API fronts reach it.
import { Slot } from "../../runtime/block.js";
import type { ApiContext } from "../../api/context.js";
import { actorErrors } from "./errors.js";
import type { ActorsBlock } from "./actors-block.js";

export const actorsSlot = new Slot<ActorsBlock>("actors");

/** The actors block, or daprd's "actor runtime not ready" when it does not run (yet). */
export function actorsOf(ctx: ApiContext): ActorsBlock {
  const block = ctx.blocks.get(actorsSlot);
  if (!block) throw actorErrors.runtimeNotFound();
  return block;
}
