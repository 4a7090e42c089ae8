// Wires a sidecar together: components, blocks, API servers, the app; and takes it apart again in order.
import { mkdirSync } from "node:fs";
import type { ApiContext } from "../api/context.js";
import { startGrpcServer, type GrpcServerHandle } from "../api/grpc/server.js";
import { startHttpServer, type HttpServerHandle } from "../api/http/server.js";
import { AppChannel } from "../app/channel.js";
import { AppProcess } from "../app/launcher.js";
import { HealthBlock } from "../blocks/health/health-block.js";
import { MetadataBlock } from "../blocks/metadata/metadata-block.js";
import { loadExternalPlugins } from "../components/external-plugins.js";
import { loadResourcePaths, type RawResource } from "../components/loader.js";
import { ComponentRegistry } from "../components/registry.js";
import type { ComponentPlugin } from "../components/plugin.js";
import type { Logger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { apiSocketPath } from "../api/listen-address.js";
import { Resiliency, resiliencyFromResources } from "../resiliency/index.js";
import type { RuntimeConfig } from "./config.js";
import { embeddedDefaults } from "./defaults.js";
import { settlesWithin } from "../resiliency/sleep.js";
import { readApiAccess } from "../security/configuration.js";
import { BlockSlots, type BlockHost, type BlockInstance, type BlockManifest } from "./block.js";

/** What the CLI hands the runtime: the blocks (src/blocks/index.ts) and the component plugins (plugins/index.ts). */
export interface RuntimeWiring {
  blocks: readonly BlockManifest<any>[];
  plugins: readonly ComponentPlugin<any, any>[];
}

interface RunningBlock {
  name: string;
  instance: BlockInstance;
}

/** How much longer than its grace a module's drain may take before stop() goes on without it. */
const DRAIN_SLACK_MS = 2_000;
/** The app always gets at least this long to exit after SIGTERM, whatever draining used up. */
const MIN_APP_GRACE_MS = 1_000;

/** start() was cut short by a stop (a signal during start-up): not a failure. */
export class StartAbortedError extends Error {
  constructor() {
    super("start-up was cut short: the sidecar is stopping");
    this.name = "StartAbortedError";
  }
}

export class Runtime {
  readonly registry: ComponentRegistry;
  readonly api: ApiContext;
  readonly metrics: Metrics;
  /** Calls into this sidecar's own app. */
  readonly appChannel: AppChannel;
  /** Resources of kinds other than Component (Subscription, Configuration, Resiliency, …). */
  resources: RawResource[] = [];
  /** Resiliency policies from the resources, shared by every block (one circuit breaker per target). */
  resiliency = new Resiliency();
  readonly finished: Promise<number>;
  private resolveFinished!: (code: number) => void;
  /** Resolves once the API servers listen and /healthz says ready: input deliveries to the app wait for it. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private http?: HttpServerHandle;
  private grpc?: GrpcServerHandle;
  private app?: AppProcess;
  private modules: RunningBlock[] = [];
  private stopping?: Promise<void>;
  private starting?: Promise<void>;
  private stopRequested = false;
  /** Aborted by stop(): a component init still running is given up on instead of waited for. */
  private readonly startCancelled = new AbortController();

  constructor(readonly config: RuntimeConfig, readonly logger: Logger, private readonly wiring: RuntimeWiring) {
    this.finished = new Promise((r) => (this.resolveFinished = r));
    this.ready = new Promise((r) => (this.resolveReady = r));
    this.appChannel = new AppChannel(config, logger.child("app-channel"));
    this.registry = new ComponentRegistry({ appId: config.appId, dataDir: config.dataDir, logger: logger.child("components") });
    this.metrics = new Metrics(config.appId, config.enableMetrics);
    this.api = {
      config,
      logger,
      metrics: this.metrics,
      metadata: new MetadataBlock(config, this.registry),
      health: new HealthBlock(this.registry, () => this.appChannel.channelUp),
      appChannel: this.appChannel,
      manifests: wiring.blocks,
      blocks: new BlockSlots(),
      requestShutdown: (reason) => setTimeout(() => this.stop(reason), 10),
    };
  }

  /** The port metrics are served on (undefined: not served). */
  private metricsPort?: number;

  get httpPort(): number | undefined {
    return this.http?.port;
  }

  get grpcPort(): number | undefined {
    return this.grpc?.port;
  }

  /** The app's process id (the leader of its process group), once launched. */
  get appPid(): number | undefined {
    return this.app?.pid;
  }

  /** Starts everything; rejects with StartAbortedError when a stop arrives first (stop() then tears down what started). */
  start(): Promise<void> {
    return (this.starting ??= this.startSteps());
  }

  /** Between the steps of start-up: a stop that arrived meanwhile ends it there. */
  private checkpoint(): void {
    if (this.stopRequested) throw new StartAbortedError();
  }

  private async startSteps(): Promise<void> {
    const c = this.config;
    const started = performance.now();
    mkdirSync(c.dataDir, { recursive: true });
    this.api.apiAccess = readApiAccess(c.configPath);
    for (const p of this.wiring.plugins) this.registry.registerPlugin(p);
    const external = await loadExternalPlugins(c.pluginsPaths);
    this.checkpoint();
    for (const p of external) {
      this.registry.registerPlugin(p);
      this.logger.info("plugin registered", { type: p.type });
    }
    let components;
    if (c.resourcesPaths.length) {
      const loaded = loadResourcePaths(c.resourcesPaths);
      components = loaded.components;
      this.resources = loaded.others;
    } else {
      components = embeddedDefaults(new Set(this.registry.pluginTypes()));
    }
    try {
      await this.registry.loadAll(components, this.startCancelled.signal);
    } catch (err) {
      this.checkpoint(); // a component given up on because of the stop is not a start-up failure
      throw err;
    }
    this.checkpoint();
    this.resiliency = resiliencyFromResources(this.resources, c.appId);
    const host = this.blockHost();
    for (const manifest of this.wiring.blocks) {
      const instance = manifest.create?.(host, c.blockOptions[manifest.name]);
      if (!instance) continue;
      this.modules.push({ name: manifest.name, instance }); // pushed first: a module whose start fails half way is still stopped
      await instance.start?.();
      this.checkpoint();
    }
    this.metrics.componentsLoaded.set({ app_id: c.appId }, this.registry.list().length);
    if (c.enableMetrics) this.metricsPort = this.metrics.serve(c.listenAddress, c.metricsPort, this.logger);
    this.http = startHttpServer(this.api);
    this.grpc = await startGrpcServer(this.api);
    this.checkpoint();
    this.api.health.markReady();
    this.logger.info("rapr is ready", {
      http_port: this.http.port,
      grpc_port: this.grpc.port,
      components: this.registry.list().length,
      startup_ms: Math.round(performance.now() - started),
    });
    this.resolveReady();
    if (c.appCommand.length) this.launchApp();
    this.appChannel.startHealthChecks();
    // /healthz answers 204 once the app's port opens (daprd waits for its app channel the same way).
    void this.appChannel.waitForPort(Number.POSITIVE_INFINITY, this.startCancelled.signal);
  }

  /** The narrow view of the sidecar each block's module gets. */
  private blockHost(): BlockHost {
    return {
      config: this.config,
      logger: this.logger,
      registry: this.registry,
      appChannel: this.appChannel,
      resiliency: this.resiliency,
      ready: this.ready,
      metadata: this.api.metadata,
      resources: this.resources,
      apiPorts: () => ({ http: this.httpPort, grpc: this.grpcPort }),
      provide: (slot, value) => this.api.blocks.set(slot, value),
      use: (slot) => this.api.blocks.get(slot),
    };
  }

  private launchApp() {
    const c = this.config;
    const env: Record<string, string> = {
      APP_ID: c.appId,
      DAPR_HTTP_PORT: String(this.http!.port),
      DAPR_GRPC_PORT: String(this.grpc!.port),
      // On unix sockets the gRPC API is a unix:// target (gRPC naming, read by the Go and Python SDKs); HTTP has no such form.
      ...(c.unixDomainSocketDir
        ? { DAPR_GRPC_ENDPOINT: `unix://${apiSocketPath(c.unixDomainSocketDir, c.appId, "grpc")}` }
        : { DAPR_HTTP_ENDPOINT: `http://127.0.0.1:${this.http!.port}`, DAPR_GRPC_ENDPOINT: `http://127.0.0.1:${this.grpc!.port}` }),
    };
    // As `dapr run` sets them for the app.
    if (c.appPort !== undefined) env.APP_PORT = String(c.appPort);
    if (this.metricsPort) env.DAPR_METRICS_PORT = String(this.metricsPort);
    env.APP_PROTOCOL = c.appProtocol;
    env.APP_CHANNEL_ADDRESS = c.appChannelAddress;
    if (c.apiToken) env.DAPR_API_TOKEN = c.apiToken;
    if (c.appApiToken) env.APP_API_TOKEN = c.appApiToken;
    this.app = AppProcess.launch({ command: c.appCommand, env, logger: this.logger.child("app"), output: c.appOutput });
    this.app.exited.then((code) => {
      this.logger.info("app exited", { code });
      this.stop("app exited", code);
    });
  }

  /** Exits the process now (a second signal while stopping), taking the app down with it. */
  exitNow(code: number): never {
    this.app?.kill();
    process.exit(code);
  }

  /**
   * Drains the modules (input bindings and subscriptions stop taking events, deliveries in flight finish), then stops
   * the app, the servers, the modules and the components; resolves `finished` with the exit code.
   */
  stop(reason: string, exitCode = 0): Promise<void> {
    this.stopRequested = true;
    this.startCancelled.abort();
    this.stopping ??= (async () => {
      this.logger.info("shutting down", { reason });
      // Start-up ends at its next step; one that hangs (a cluster join, a secret store that never answers) is not
      // waited for beyond the grace.
      if (this.starting && !(await settlesWithin(this.starting, this.config.gracefulShutdownMs))) {
        this.logger.warn("start-up did not reach a stopping point within the graceful-shutdown time; stopping anyway");
      }
      // One graceful-shutdown budget for draining and the app together.
      const grace = this.config.gracefulShutdownMs;
      const deadline = performance.now() + grace;
      const drainMs = reason === "app exited" ? 0 : grace;
      const drains = Promise.all(this.modules.map((m) => m.instance.drain?.(drainMs).catch((err) => this.logger.warn("module drain failed", { module: m.name, error: err }))));
      if (!(await settlesWithin(drains, drainMs + DRAIN_SLACK_MS))) this.logger.warn("draining did not finish within the graceful-shutdown time; stopping anyway");
      let code = exitCode;
      const appGraceMs = Math.max(MIN_APP_GRACE_MS, deadline - performance.now());
      // Also after the app exited by itself: what it started in its process group may still run.
      if (this.app) await this.app.stop(appGraceMs);
      this.appChannel.stop();
      await Promise.allSettled([this.http?.stop(), this.grpc?.stop(), this.metrics.stop()]);
      for (const m of this.modules.reverse()) await Promise.resolve(m.instance.stop?.()).catch((err) => this.logger.warn("module stop failed", { module: m.name, error: err }));
      try {
        await this.registry.closeAll();
      } finally {
        this.logger.info("stopped");
        this.resolveFinished(code);
      }
    })();
    return this.stopping;
  }
}
