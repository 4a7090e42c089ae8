// Dapr Component YAML for tests and benches: one document, metadata values quoted as JSON strings.
export function componentYaml(
  name: string,
  type: string,
  metadata: Record<string, string> = {},
  opts: { /** Raw lines under spec (e.g. "  ignoreErrors: true"). */ extra?: string; scopes?: string[] } = {},
): string {
  const meta = Object.entries(metadata);
  return [
    "apiVersion: dapr.io/v1alpha1",
    "kind: Component",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  type: ${type}`,
    "  version: v1",
    ...(meta.length ? ["  metadata:", ...meta.flatMap(([k, v]) => [`  - name: ${k}`, `    value: ${JSON.stringify(v)}`])] : []),
    ...(opts.extra ? [opts.extra] : []),
    ...(opts.scopes ? ["scopes:", ...opts.scopes.map((s) => `  - ${s}`)] : []),
    "",
  ].join("\n");
}
