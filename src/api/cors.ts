// CORS rules both API servers (HTTP, and gRPC/Connect) share.

/** A browser's CORS preflight: OPTIONS with Origin and Access-Control-Request-Method. The sidecar answers only
 * these itself; any other OPTIONS is an ordinary request (an invocation forwards it to the app, as daprd does). */
export function isPreflight(method: string | undefined, origin: unknown, requestMethod: unknown): boolean {
  return method === "OPTIONS" && !!origin && !!requestMethod;
}
