// Prometheus metrics, named as daprd names them so existing dashboards work, served on --metrics-port.
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { RequestStats } from "./request-stats.js";
import type { Logger } from "./logger.js";

const LATENCY_MS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export class Metrics {
  readonly registry = new Registry();
  private readonly http: RequestStats;
  private readonly grpc: RequestStats;
  readonly componentsLoaded: Gauge<"app_id">;
  private server?: ReturnType<typeof Bun.serve>;

  /** served: metrics are scraped (--enable-metrics). Only then are API calls counted and the runtime's own metrics
   * (CPU, memory, event-loop lag, whose monitor wakes the loop every 100 ms) collected. */
  constructor(readonly appId: string, private readonly served = true) {
    const registers = [this.registry];
    if (served) collectDefaultMetrics({ register: this.registry, prefix: "rapr_", eventLoopMonitoringPrecision: 100 });
    this.http = new RequestStats(
      this.registry,
      { counter: "dapr_http_server_request_count", counterHelp: "HTTP API requests served", histogram: "dapr_http_server_latency", histogramHelp: "HTTP API latency in milliseconds" },
      ["app_id", "method", "path", "status"],
      LATENCY_MS_BUCKETS,
    );
    this.grpc = new RequestStats(
      this.registry,
      { counter: "dapr_grpc_io_server_completed_rpcs", counterHelp: "gRPC API calls completed", histogram: "dapr_grpc_io_server_server_latency", histogramHelp: "gRPC API latency in milliseconds" },
      ["app_id", "grpc_server_method", "grpc_server_status"],
      LATENCY_MS_BUCKETS,
    );
    this.componentsLoaded = new Gauge({ name: "dapr_runtime_component_loaded", help: "components loaded", labelNames: ["app_id"], registers });
  }

  observeHttp(method: string, path: string, status: number, ms: number): void {
    if (this.served) this.http.observe([this.appId, method, path, String(status)], ms);
  }

  observeGrpc(method: string, status: string, ms: number): void {
    if (this.served) this.grpc.observe([this.appId, method, status], ms);
  }

  /** Serves GET /metrics; a port already in use is logged, not fatal, so many sidecars can share a host. */
  serve(host: string, port: number, logger: Logger): number | undefined {
    try {
      this.server = Bun.serve({
        hostname: host,
        port,
        development: false,
        fetch: async (req) => {
          // A request with an empty Host header has a URL of only its path.
          if (new URL(req.url, "http://localhost").pathname !== "/metrics") return new Response("not found; try /metrics\n", { status: 404 });
          return new Response(await this.registry.metrics(), { headers: { "content-type": this.registry.contentType } });
        },
      });
      return this.server.port;
    } catch (err) {
      logger.warn("metrics server not started", { port, error: err });
      return undefined;
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop(true);
  }
}
