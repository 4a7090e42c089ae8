// Raw HTTP/1.1 over TCP, for requests fetch will not send (malformed chunked bodies, an empty or short Host).
import { connect } from "node:net";

/** Writes `request` to 127.0.0.1:port and returns every byte the server sends until it closes (at most 10 s). */
export function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on("data", (d) => (received += d.toString("latin1")));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
    socket.write(request);
  });
}

/** A request head and body; `connection: close` so the server ends the exchange. */
export function rawRequest(method: string, path: string, opts: { host?: string; headers?: string[]; body?: string } = {}): string {
  const host = opts.host === undefined ? [] : [`host: ${opts.host}`];
  return [`${method} ${path} HTTP/1.1`, ...host, "connection: close", ...(opts.headers ?? []), "", opts.body ?? ""].join("\r\n");
}

/** The status codes of every response in a raw answer, in order. */
export function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
