// daprd and `dapr run` flags beyond rapr's own (dapr/dapr cmd/daprd/options, dapr/cli cmd/run.go), so command lines
// written for them start rapr unchanged. Those with a meaning here are implemented; the rest are `inert`: accepted,
// and named in one warning line at start with what rapr does instead.
import type { FlagSpec } from "./flags.js";
import { parseDuration } from "../components/metadata-schema.js";

const NO_CONTROL_PLANE = "rapr needs no control plane: sidecars authenticate each other with the local CA in ~/.rapr/ca or --mtls-*-file";
const NO_ACTORS = "rapr places actors and holds reminders in the sidecar itself (reminders on the actor state store), so no placement or scheduler service is needed";

/** A Kubernetes resource quantity (4Mi, 16M, 1Gi, 1048576) in bytes, as daprd's --max-body-size takes it. */
export function parseQuantity(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(raw.trim());
  if (!m) throw new Error("expected a size such as 4Mi, 16M or 1048576");
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ""] ?? 1;
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error("too large");
  return bytes;
}

/** A Go duration (30s, 1m30s, 500ms) as daprd's duration flags take it, kept as written. */
function goDuration(raw: string): string {
  if (parseDuration(raw) === undefined) throw new Error("expected a duration such as 30s, 1m30s or 500ms");
  return raw;
}

export const daprdCompatFlags: FlagSpec[] = [
  // Implemented.
  { name: "disable-init-endpoints", type: "csv", help: "app endpoints not to call at start: subscribe (the app's /dapr/subscribe or ListTopicSubscriptions), config", oneOf: ["config", "subscribe"] },
  { name: "version", type: "bool", help: "print the version and exit (as daprd --version)", default: false },
  { name: "build-info", type: "bool", help: "print the version and exit (as daprd --build-info)", default: false },
  { name: "app-ssl", type: "bool", help: "call the app over TLS (deprecated in Dapr: --app-protocol https|grpcs)", default: false },
  { name: "max-body-size", type: "string", help: "largest request body on the HTTP and gRPC APIs, as a quantity (4Mi, 16M); wins over --dapr-http-max-request-size", parse: parseQuantity },
  { name: "unix-domain-socket", type: "string", help: "directory: the HTTP and gRPC APIs listen on dapr-http-<app-id>.socket and dapr-grpc-<app-id>.socket there instead of TCP ports", aliases: ["u"] },
  // Accepted, not used.
  { name: "read-buffer-size", type: "string", help: "accepted for compatibility", parse: parseQuantity, inert: "Bun sizes its read buffers itself" },
  { name: "mode", type: "string", help: "accepted for compatibility", inert: "rapr always runs standalone; a cluster forms with --cluster" },
  { name: "placement-host-address", type: "string", help: "accepted for compatibility", inert: NO_ACTORS },
  { name: "scheduler-host-address", type: "string", help: "accepted for compatibility", inert: NO_ACTORS },
  { name: "scheduler-job-streams", type: "int", help: "accepted for compatibility", min: 0, inert: NO_ACTORS },
  { name: "actors-service", type: "string", help: "accepted for compatibility", inert: NO_ACTORS },
  { name: "reminders-service", type: "string", help: "accepted for compatibility", inert: NO_ACTORS },
  { name: "actors-disseminate-timeout", type: "string", help: "accepted for compatibility", parse: goDuration, inert: NO_ACTORS },
  { name: "hot-reload-reconcile-interval", type: "string", help: "accepted for compatibility", parse: goDuration, inert: "resources are read once at start" },
  { name: "app-binding-options-timeout", type: "string", help: "accepted for compatibility", parse: goDuration, inert: "the app gets 3 s to answer OPTIONS or ListInputBindings, and is asked again later" },
  { name: "control-plane-address", type: "string", help: "accepted for compatibility", inert: NO_CONTROL_PLANE },
  { name: "sentry-address", type: "string", help: "accepted for compatibility", inert: NO_CONTROL_PLANE },
  { name: "control-plane-trust-domain", type: "string", help: "accepted for compatibility (see --trust-domain)", inert: "the trust domain is --trust-domain" },
  { name: "control-plane-namespace", type: "string", help: "accepted for compatibility", inert: NO_CONTROL_PLANE },
  { name: "sentry-request-jwt-audiences", type: "csv", help: "accepted for compatibility", inert: NO_CONTROL_PLANE },
  { name: "enable-profiling", type: "bool", help: "accepted for compatibility", inert: "rapr serves no pprof endpoint; profile it with Bun's inspector (bun --inspect src/main.ts run …) or bun --cpu-prof" },
  { name: "profile-port", type: "int", help: "accepted for compatibility", min: -1, max: 65535, inert: "rapr serves no pprof endpoint" },
  { name: "dapr-public-port", type: "int", help: "accepted for compatibility", min: 0, max: 65535, inert: "health and metadata are served on the HTTP API port" },
  { name: "dapr-public-listen-address", type: "string", help: "accepted for compatibility", inert: "health and metadata are served on the HTTP API port" },
  { name: "dapr-internal-grpc-listen-address", type: "string", help: "accepted for compatibility", inert: "sidecar-to-sidecar traffic listens where the data plane's transport does" },
  { name: "metrics-listen-address", type: "string", help: "accepted for compatibility", inert: "metrics listen on --dapr-listen-addresses" },
  { name: "dapr-block-shutdown-duration", type: "string", help: "accepted for compatibility", inert: "shutdown starts at the signal, within --dapr-graceful-shutdown-seconds" },
  { name: "disable-builtin-k8s-secret-store", type: "bool", help: "accepted for compatibility", inert: "there is no built-in Kubernetes secret store" },
  { name: "wait", type: "bool", help: "accepted for compatibility", inert: "rapr run starts at once" },
  { name: "kubernetes", type: "bool", help: "accepted for compatibility (dapr run -k)", aliases: ["k"], inert: "rapr runs the apps on this machine" },
  { name: "runtime-path", type: "string", help: "accepted for compatibility (dapr run)", inert: "rapr is its own runtime" },
];
