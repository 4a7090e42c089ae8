// The building blocks, in start order (stopped in reverse): the runtime starts their modules, both API servers serve
// their endpoints and services, `rapr run` takes their flags. A new block is one manifest in its own folder plus
// one line here (see docs/architecture.md, "Adding a block").
import type { BlockManifest } from "../runtime/block.js";
import { systemManifest } from "./metadata/manifest.js";
import { stateManifest } from "./state/manifest.js";
import { secretsManifest } from "./secrets/manifest.js";
import { lockManifest } from "./lock/manifest.js";
import { configurationManifest } from "./configuration/manifest.js";
import { cryptoManifest } from "./crypto/manifest.js";
import { conversationManifest } from "./conversation/manifest.js";
import { clusterManifest } from "../cluster/runtime-module.js";
import { invokeManifest } from "./invoke/module.js";
import { actorsManifest } from "./actors/manifest.js";
import { pubsubManifest } from "./pubsub/module.js";
import { bindingsManifest } from "./bindings/module.js";
import { jobsManifest } from "./jobs/manifest.js";

// cluster before invoke: invocation resolves app ids through membership when clustering is on. invoke before pubsub:
// the hot forms are tried in this order, and a dapr-app-id header turns any path, a publish path included, into an
// invocation.
export const builtinBlocks: readonly BlockManifest<any>[] = [
  systemManifest,
  stateManifest,
  secretsManifest,
  lockManifest,
  configurationManifest,
  cryptoManifest,
  conversationManifest,
  clusterManifest,
  invokeManifest,
  actorsManifest,
  pubsubManifest,
  bindingsManifest,
  jobsManifest,
];
