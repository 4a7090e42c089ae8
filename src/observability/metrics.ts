// Prometheus metrics, named as daprd names them so existing dashboards work, served on --metrics-port.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "./logger.js";

const LATENCY_MS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<"app_id" | "method" | "path" | "status">;
  readonly httpLatency: Histogram<"app_id" | "method" | "path" | "status">;
  readonly grpcCompleted: Counter<"app_id" | "grpc_server_method" | "grpc_server_status">;
  readonly grpcLatency: Histogram<"app_id" | "grpc_server_method" | "grpc_server_status">;
  readonly componentsLoaded: Gauge<"app_id">;
  private server?: ReturnType<typeof Bun.serve>;

  constructor(readonly appId: string) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "rapr_" });
    this.httpRequests = new Counter({ name: "dapr_http_server_request_count", help: "HTTP API requests served", labelNames: ["app_id", "method", "path", "status"], registers });
    this.httpLatency = new Histogram({ name: "dapr_http_server_latency", help: "HTTP API latency in milliseconds", labelNames: ["app_id", "method", "path", "status"], buckets: LATENCY_MS_BUCKETS, registers });
    this.grpcCompleted = new Counter({ name: "dapr_grpc_io_server_completed_rpcs", help: "gRPC API calls completed", labelNames: ["app_id", "grpc_server_method", "grpc_server_status"], registers });
    this.grpcLatency = new Histogram({ name: "dapr_grpc_io_server_server_latency", help: "gRPC API latency in milliseconds", labelNames: ["app_id", "grpc_server_method", "grpc_server_status"], buckets: LATENCY_MS_BUCKETS, registers });
    this.componentsLoaded = new Gauge({ name: "dapr_runtime_component_loaded", help: "components loaded", labelNames: ["app_id"], registers });
  }

  observeHttp(method: string, path: string, status: number, ms: number): void {
    const labels = { app_id: this.appId, method, path, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpLatency.observe(labels, ms);
  }

  observeGrpc(method: string, status: string, ms: number): void {
    const labels = { app_id: this.appId, grpc_server_method: method, grpc_server_status: status };
    this.grpcCompleted.inc(labels);
    this.grpcLatency.observe(labels, ms);
  }

  /** Serves GET /metrics; a port already in use is logged, not fatal, so many sidecars can share a host. */
  serve(host: string, port: number, logger: Logger): number | undefined {
    try {
      this.server = Bun.serve({
        hostname: host,
        port,
        fetch: async (req) => {
          if (new URL(req.url).pathname !== "/metrics") return new Response("not found; try /metrics\n", { status: 404 });
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
