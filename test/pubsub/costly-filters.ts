// CEL filters that cost too much to evaluate per event: `depth` nested all() over n-item list literals.
export function nestedAll(depth: number, n: number): string {
  const list = `[${Array.from({ length: n }, (_, i) => i).join(",")}]`;
  let body = "true";
  for (let d = depth; d > 0; d--) body = `${list}.all(v${d}, ${body})`;
  return body;
}
