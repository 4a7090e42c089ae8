// Byte sizes as Dapr writes them in metadata (Kubernetes quantities): "1048576", "100Mi", "1Gi", "10M", "500k".

const unitBytes: Record<string, number> = {
  "": 1,
  k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

/** Bytes, or undefined when the text is not a size. Negative sizes are kept (they mean "no limit" to callers). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?B?\s*$/.exec(text);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * unitBytes[m[2] ?? ""]);
}
