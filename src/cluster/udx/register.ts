// Import once (e.g. from a preload) before anything requires hyperswarm/hyperdht/dht-rpc.
import { udxRuntimePlugin } from "./plugin.js";

Bun.plugin(udxRuntimePlugin);
