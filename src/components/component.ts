// The parsed, validated form of a Dapr Component YAML document.

export interface SecretKeyRef {
  name: string;
  key?: string;
}

export interface MetadataItem {
  name: string;
  value?: string;
  secretKeyRef?: SecretKeyRef;
}

export interface ComponentSpec {
  /** metadata.name */
  name: string;
  namespace?: string;
  /** spec.type, e.g. "state.postgresql" */
  type: string;
  /** spec.version, e.g. "v1" */
  version: string;
  metadata: MetadataItem[];
  ignoreErrors: boolean;
  initTimeoutMs?: number;
  /** auth.secretStore: where secretKeyRef values are read from */
  secretStore?: string;
  /** App ids allowed to use the component; empty = all */
  scopes: string[];
  /** Where it came from: "path/to/file.yaml#2" or "embedded default" */
  source: string;
}

/** The building-block family of a component type: "state" for "state.redis", "secretstores" for "secretstores.local.file". */
export function familyOf(type: string): string {
  return type.split(".")[0];
}
