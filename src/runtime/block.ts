// What a building block declares about itself, in one manifest the runtime, both API servers and the CLI read
// (src/blocks/index.ts lists them): its flags and typed options, its HTTP endpoints and gRPC services as data, and
// the module it runs with a narrow host instead of the whole runtime.
import type { DescService } from "@bufbuild/protobuf";
import type { ApiContext } from "../api/context.js";
import type { AppChannel } from "../app/channel.js";
import type { MetadataBlock } from "../blocks/metadata/metadata-block.js";
import type { FlagSpec, FlagValues } from "../cli/flags.js";
import type { RawResource } from "../components/loader.js";
import type { ComponentRegistry } from "../components/registry.js";
import type { Logger } from "../observability/logger.js";
import type { Resiliency } from "../resiliency/index.js";
import type { RuntimeConfig } from "./config.js";

export type Env = Record<string, string | undefined>;

/** One HTTP route of Dapr's API surface, as daprd's pkg/api/http endpoints are. */
export interface HttpEndpoint {
  /** The operation's name (daprd's endpoint name, e.g. "GetState"): the metric and log label. */
  name: string;
  /** "*": every method. */
  methods: readonly HttpMethod[] | "*";
  /** The route after the version, e.g. "/state/:store/:key" ("*" at the end takes the rest of the path). */
  route: string;
  version: "v1.0" | "v1.0-alpha1" | "v1.0-alpha2";
  /** Dapr's API group: what `spec.api.allowed` / `denied` in a Configuration name (state, publish, invoke, …). */
  group: string;
  handler: (call: { params: Record<string, string>; request: Request }) => Response | Promise<Response>;
  /** The body stays unread for the handler (Elysia parses nothing). */
  rawBody?: boolean;
  /** Served without DAPR_API_TOKEN (daprd's health checks). */
  public?: boolean;
  /** Never filtered out by `spec.api` (daprd's health endpoints). */
  alwaysAllowed?: boolean;
  /**
   * The hot form: tried on every request before the router, for the highest-volume calls. Answers (a promise) or
   * declines (undefined) by itself; `url` is request.url, read once.
   */
  hot?: (request: Request, pathname: string, url: string) => Promise<Response> | undefined;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD";

/** A gRPC service implementation (as connect-es's router takes it), each method in a Dapr API group. */
export interface GrpcService {
  service: DescService;
  impl: Record<string, unknown>;
  /** The Dapr API group and version of each method by its proto name (e.g. GetState → state v1); absent: none. */
  groups?: Record<string, { group: string; version: string }>;
}

/** A block-owned value the API fronts reach through the ApiContext (`ctx.blocks.get(slot)`). */
export class Slot<T> {
  declare private readonly type: T;
  constructor(readonly name: string) {}
}

export class BlockSlots {
  private readonly values = new Map<Slot<unknown>, unknown>();
  get<T>(slot: Slot<T>): T | undefined {
    return this.values.get(slot) as T | undefined;
  }
  set<T>(slot: Slot<T>, value: T | undefined): void {
    if (value === undefined) this.values.delete(slot);
    else this.values.set(slot, value);
  }
}

/** What a block's module may use of the sidecar. */
export interface BlockHost {
  /** The sidecar-wide settings (app id, ports, limits); a block's own flags come as its typed options. */
  readonly config: RuntimeConfig;
  readonly logger: Logger;
  readonly registry: ComponentRegistry;
  readonly appChannel: AppChannel;
  /** Resiliency policies from the resources (one circuit breaker per target). */
  readonly resiliency: Resiliency;
  /** Resolves once the API servers listen and /healthz says ready. */
  readonly ready: Promise<void>;
  /** GET /v1.0/metadata: blocks contribute their part. */
  readonly metadata: MetadataBlock;
  /** Resources of kinds other than Component (Subscription, Configuration, Resiliency, HTTPEndpoint, …). */
  readonly resources: readonly RawResource[];
  /** The API servers' ports, once they listen. */
  apiPorts(): { http?: number; grpc?: number };
  /** Hands a value to the API fronts (undefined takes it back). */
  provide<T>(slot: Slot<T>, value: T | undefined): void;
  /** What another block provided (undefined until it did): how a block reaches a service of a block started before it. */
  use<T>(slot: Slot<T>): T | undefined;
}

/** A block's running part: started in the blocks index's order, drained and stopped in reverse. */
export interface BlockInstance {
  start?(): Promise<void>;
  /**
   * The first step of stopping, before the app and its channel stop: take no new input and let deliveries in
   * flight finish within `graceMs` (0 when the app has already exited).
   */
  drain?(graceMs: number): Promise<void>;
  stop?(): Promise<void>;
}

export interface BlockManifest<O = unknown> {
  name: string;
  /** Flags this block adds to `rapr run`. */
  flags?: readonly FlagSpec[];
  /** The block's options from the parsed flags, checked once at `rapr run` (a UsageError stops it with exit 2). */
  parseOptions?(values: FlagValues, env: Env): O;
  /** HTTP endpoints, served whether or not the module runs (they answer "not configured" then). */
  http?(api: ApiContext): HttpEndpoint[];
  /** gRPC services, likewise. */
  grpc?(api: ApiContext): GrpcService[];
  /** The block's module; undefined: nothing to run with these options. */
  create?(host: BlockHost, options: O): BlockInstance | undefined;
}

/** Keeps `O` checked between parseOptions and create when manifests of different options share one list. */
export function defineBlock<O>(manifest: BlockManifest<O>): BlockManifest<O> {
  return manifest;
}

/** Every block's flags, in the index's order. */
export function blockFlags(blocks: readonly BlockManifest<any>[]): FlagSpec[] {
  return blocks.flatMap((b) => b.flags ?? []);
}

/** Every block's options, by block name (parseOptions throws UsageError for a bad combination). */
export function parseBlockOptions(blocks: readonly BlockManifest<any>[], values: FlagValues, env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const b of blocks) out[b.name] = b.parseOptions?.(values, env);
  return out;
}
