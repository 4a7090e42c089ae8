// Holds the known plugins and the live component instances, and turns ComponentSpecs into instances.
import type { Logger } from "../observability/logger.js";
import { familyOf, type ComponentSpec, type MetadataItem } from "./component.js";
import type { SecretStore } from "./contracts/secretstore.js";
import { MetadataError, parseMetadata } from "./metadata-schema.js";
import type { Component, ComponentPlugin } from "./plugin.js";
import { settlesWithin } from "../resiliency/sleep.js";
import { dictionary, ownValue } from "../dictionary.js";

export interface LoadedComponent {
  spec: ComponentSpec;
  family: string;
  instance: Component;
  plugin: ComponentPlugin<any, any>;
  /** The metadata items' values as the plugin got them, names as the YAML spells them. secretKeyRefs are resolved:
   * it holds secrets, never show it (GET /v1.0/metadata lists names and types only). */
  metadata: Record<string, string>;
}

export class ComponentInitError extends Error {
  constructor(readonly spec: ComponentSpec, message: string) {
    super(`${spec.source}: component "${spec.name}" (${spec.type}/${spec.version}): ${message}`);
    this.name = "ComponentInitError";
  }
}

const DEFAULT_INIT_TIMEOUT_MS = 5000;
/** How long stopping waits for components to close. */
const CLOSE_LIMIT_MS = 5000;
/** Why a component still initialising is given up on when the sidecar stops. */
const STOPPING = "init given up: the sidecar is stopping";

export class ComponentRegistry {
  private readonly plugins = new Map<string, ComponentPlugin<any, any>>();
  private readonly loaded = new Map<string, LoadedComponent>();

  constructor(
    private readonly ctx: { appId: string; dataDir: string; logger: Logger },
  ) {}

  registerPlugin(plugin: ComponentPlugin<any, any>): void {
    this.plugins.set(plugin.type, plugin);
  }

  /** The registered plugin of a type (to build an instance outside the component list, e.g. a fallback). */
  plugin(type: string): ComponentPlugin<any, any> | undefined {
    return this.plugins.get(type);
  }

  pluginTypes(): string[] {
    return [...this.plugins.keys()].sort();
  }

  /** Loads secret stores first (other components' secretKeyRefs read from them), then the rest, in file order. */
  /** `cancel`: the sidecar is stopping; a component still initializing is given up on at once. */
  async loadAll(specs: ComponentSpec[], cancel?: AbortSignal): Promise<void> {
    const inScope = specs.filter((s) => s.scopes.length === 0 || s.scopes.includes(this.ctx.appId));
    const secretStores = inScope.filter((s) => familyOf(s.type) === "secretstores");
    const rest = inScope.filter((s) => familyOf(s.type) !== "secretstores");
    for (const spec of [...secretStores, ...rest]) {
      if (cancel?.aborted) return;
      await this.load(spec, cancel);
    }
  }

  async load(spec: ComponentSpec, cancel?: AbortSignal): Promise<void> {
    const log = this.ctx.logger;
    try {
      const family = familyOf(spec.type);
      const key = `${family}/${spec.name}`;
      if (this.loaded.has(key)) {
        throw new ComponentInitError(spec, `a ${family} component named "${spec.name}" is already loaded from ${this.loaded.get(key)!.spec.source}`);
      }
      const plugin = this.plugins.get(spec.type);
      if (!plugin) {
        const known = this.pluginTypes().filter((t) => familyOf(t) === family);
        throw new ComponentInitError(spec, `unknown component type "${spec.type}"${known.length ? `; known ${family} types: ${known.join(", ")}` : ""}`);
      }
      const versions = plugin.versions ?? ["v1"];
      if (!versions.includes(spec.version)) {
        throw new ComponentInitError(spec, `field "spec.version": ${spec.type} supports ${versions.join(", ")}, got "${spec.version}"`);
      }
      const unlessStopping = () => {
        if (cancel?.aborted) throw new ComponentInitError(spec, STOPPING);
      };
      unlessStopping();
      const raw = await this.resolveMetadata(spec);
      unlessStopping();
      let metadata;
      try {
        metadata = parseMetadata(plugin.metadata, raw);
      } catch (err) {
        if (err instanceof MetadataError) throw new ComponentInitError(spec, err.message);
        throw err;
      }
      const timeout = spec.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
      const creating = plugin.create(metadata, { name: spec.name, appId: this.ctx.appId, dataDir: this.ctx.dataDir, logger: log.child(spec.type) });
      // An instance that arrives after the registry gave up would hold its connections forever: close it then.
      const giveUp = (why: string) => {
        creating.then((late: Component) => late.close()).catch(() => {});
        return new ComponentInitError(spec, why);
      };
      const instance = await withTimeout(creating, timeout, () => giveUp(`init did not finish within ${timeout}ms (spec.initTimeout)`), cancel, () =>
        giveUp(STOPPING),
      );
      this.loaded.set(key, { spec, family, instance, plugin, metadata: raw });
      log.info("component loaded", { name: spec.name, type: spec.type, version: spec.version });
    } catch (err) {
      const wrapped = err instanceof ComponentInitError ? err : new ComponentInitError(spec, err instanceof Error ? err.message : String(err));
      if (spec.ignoreErrors) {
        log.warn("component failed to load and is ignored (spec.ignoreErrors)", { name: spec.name, error: wrapped.message });
        return;
      }
      throw wrapped;
    }
  }

  private resolveMetadata(spec: ComponentSpec): Promise<Record<string, string>> {
    return this.resolveItems(spec.metadata, spec.secretStore, (message) => new ComponentInitError(spec, `metadata field ${message}`));
  }

  /** Values of {name, value | secretKeyRef} items, secrets read from `secretStore` (auth.secretStore). */
  async resolveItems(items: MetadataItem[], secretStore: string | undefined, fail: (message: string) => Error): Promise<Record<string, string>> {
    const out = dictionary<string>();
    for (const item of items) {
      if (!item.secretKeyRef) {
        out[item.name] = item.value ?? "";
        continue;
      }
      const storeName = secretStore ?? "kubernetes";
      const store = this.get<SecretStore>("secretstores", storeName);
      if (!store) throw fail(`"${item.name}": secretKeyRef needs secret store "${storeName}" (auth.secretStore), which is not loaded`);
      const secret = await store.get(item.secretKeyRef.name);
      const key = item.secretKeyRef.key ?? item.secretKeyRef.name;
      const value = ownValue(secret, key);
      if (value === undefined) throw fail(`"${item.name}": secret "${item.secretKeyRef.name}" key "${key}" not found in secret store "${storeName}"`);
      out[item.name] = value;
    }
    return out;
  }

  get<C extends Component>(family: string, name: string): C | undefined {
    return this.loaded.get(`${family}/${name}`)?.instance as C | undefined;
  }

  /** Takes a loaded component out (the caller closes it): nothing lists, pings or closes it any more. */
  remove(family: string, name: string): LoadedComponent | undefined {
    const key = `${family}/${name}`;
    const lc = this.loaded.get(key);
    this.loaded.delete(key);
    return lc;
  }

  list(family?: string): LoadedComponent[] {
    return [...this.loaded.values()].filter((c) => !family || c.family === family);
  }

  /** Closes every component; one whose close() has not finished within `limitMs` is given up on with a warning. */
  async closeAll(limitMs = CLOSE_LIMIT_MS): Promise<void> {
    const all = [...this.loaded.values()].reverse();
    this.loaded.clear();
    const keyOf = (c: LoadedComponent) => `${c.family}/${c.spec.name}`;
    const open = new Set(all.map(keyOf));
    // Promise.resolve().then: a plugin's close() may return nothing or throw at once.
    const closing = Promise.allSettled(all.map((c) => Promise.resolve().then(() => c.instance.close()).finally(() => open.delete(keyOf(c)))));
    if (!(await settlesWithin(closing, limitMs))) {
      this.ctx.logger.warn("components did not close in time; stopping without them", { components: [...open].join(", "), limit_ms: limitMs });
    }
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error, cancel?: AbortSignal, onCancel?: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
        if (!cancel) return;
        onAbort = () => reject(onCancel!());
        if (cancel.aborted) onAbort();
        else cancel.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) cancel?.removeEventListener("abort", onAbort);
  }
}
