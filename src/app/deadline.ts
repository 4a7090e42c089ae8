/**
 * An AbortSignal that aborts after `ms`, with clear() to drop its timer when the call ends first. Unlike
 * AbortSignal.timeout nothing outlives the call: at thousands of deliveries a second with a 60 s limit, those
 * timers (and their signals) piled up by the hundred thousand.
 */
export function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, "TimeoutError")), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
