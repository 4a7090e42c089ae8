// Flags of the invocation block and sidecar security, and the options they make.
import { UsageError, type FlagSpec, type FlagValues } from "../../cli/flags.js";
import { DEFAULT_NAMESPACE } from "../../components/contracts/nameresolution.js";
import { dataplaneFlags, dataplaneRunFlags } from "../../transport/dataplane-flags.js";
import type { DataplaneFlags } from "../../transport/dataplane.js";

const ownFlags: FlagSpec[] = [
  { name: "enable-mtls", type: "bool", help: "mutual TLS between sidecars (a local CA in --mtls-ca-dir, or the given certificate files)", default: true },
  { name: "mtls-ca-dir", type: "string", help: "directory of the local CA shared by this user's sidecars on this host (default: ~/.rapr/ca)" },
  { name: "mtls-cert-file", type: "string", help: "this sidecar's certificate (PEM); with --mtls-key-file and --mtls-ca-file instead of the local CA" },
  { name: "mtls-key-file", type: "string", help: "this sidecar's private key (PEM)" },
  { name: "mtls-ca-file", type: "string", help: "trust anchors (PEM) peers' certificates must chain to" },
  { name: "trust-domain", type: "string", help: "trust domain of this sidecar's identity (spiffe://<trust-domain>/ns/<namespace>/<app-id>)", default: "public" },
  { name: "namespace", type: "string", help: "namespace of this app (default: $NAMESPACE or \"default\")" },
];

export const invokeRunFlags: FlagSpec[] = [...ownFlags, ...dataplaneRunFlags];

export interface InvokeOptions {
  namespace: string;
  trustDomain: string;
  mtls: boolean;
  /** Given certificate files (all three, or none: the local CA in caDir issues one). */
  certFiles?: { certFile: string; keyFile: string; caFile: string };
  caDir?: string;
  dataplane: DataplaneFlags;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

export function invokeOptions(values: FlagValues, env: Record<string, string | undefined>): InvokeOptions {
  const certFile = str(values["mtls-cert-file"]);
  const keyFile = str(values["mtls-key-file"]);
  const caFile = str(values["mtls-ca-file"]);
  if ((certFile || keyFile || caFile) && !(certFile && keyFile && caFile)) throw new UsageError("--mtls-cert-file, --mtls-key-file and --mtls-ca-file go together");
  return {
    namespace: str(values.namespace) ?? env.NAMESPACE ?? DEFAULT_NAMESPACE,
    trustDomain: str(values["trust-domain"]) ?? "public",
    mtls: values["enable-mtls"] !== false,
    certFiles: certFile && keyFile && caFile ? { certFile, keyFile, caFile } : undefined,
    caDir: str(values["mtls-ca-dir"]),
    dataplane: dataplaneFlags(values),
  };
}
