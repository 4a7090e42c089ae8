// Dapr Component YAML for tests and benches: one document, metadata values quoted as JSON strings.
export function componentYaml(name: string, type: string, metadata: Record<string, string>): string {
  return [
    "apiVersion: dapr.io/v1alpha1",
    "kind: Component",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  type: ${type}`,
    "  version: v1",
    "  metadata:",
    ...Object.entries(metadata).flatMap(([k, v]) => [`  - name: ${k}`, `    value: ${JSON.stringify(v)}`]),
    "",
  ].join("\n");
}
