// What a component plugin is: a type name, the metadata it accepts, and a factory for the contract it implements.
import type { Logger } from "../observability/logger.js";
import type { MetadataOf, MetadataSchema } from "./metadata-schema.js";

export interface PluginContext {
  /** The component's metadata.name */
  name: string;
  appId: string;
  dataDir: string;
  logger: Logger;
}

/** Every component instance can be closed; those that talk to a backend can be pinged for /healthz/outbound. */
export interface Component {
  close(): Promise<void>;
  ping?(): Promise<void>;
}

export interface ComponentPlugin<S extends MetadataSchema = MetadataSchema, C extends Component = Component> {
  /** "state.sqlite", "pubsub.nats", … */
  type: string;
  /** Accepted spec.version values; default ["v1"]. */
  versions?: string[];
  metadata: S;
  create(metadata: MetadataOf<S>, ctx: PluginContext): Promise<C>;
}

export function definePlugin<S extends MetadataSchema, C extends Component>(p: ComponentPlugin<S, C>): ComponentPlugin<S, C> {
  return p;
}
