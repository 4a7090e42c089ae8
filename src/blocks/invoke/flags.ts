// Flags of the invocation block and sidecar security.
import type { FlagSpec } from "../../cli/flags.js";

export const invokeRunFlags: FlagSpec[] = [
  { name: "enable-mtls", type: "bool", help: "mutual TLS between sidecars (a local CA in --mtls-ca-dir, or the given certificate files)", default: true },
  { name: "mtls-ca-dir", type: "string", help: "directory of the local CA shared by this user's sidecars on this host (default: ~/.rapr/ca)" },
  { name: "mtls-cert-file", type: "string", help: "this sidecar's certificate (PEM); with --mtls-key-file and --mtls-ca-file instead of the local CA" },
  { name: "mtls-key-file", type: "string", help: "this sidecar's private key (PEM)" },
  { name: "mtls-ca-file", type: "string", help: "trust anchors (PEM) peers' certificates must chain to" },
  { name: "trust-domain", type: "string", help: "trust domain of this sidecar's identity (spiffe://<trust-domain>/ns/<namespace>/<app-id>)", default: "public" },
  { name: "namespace", type: "string", help: "namespace of this app (default: $NAMESPACE or \"default\")" },
];
