import { createServer } from "node:net";

/** Ports handed out below the kernel's ephemeral range (32768–60999 by default): an outgoing connection's local
 * port is never one of them, so a port stays free between this check and the server that binds it. */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, chosen outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${LOW}-${HIGH} on 127.0.0.1 after 200 tries`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** Thrown from a waitFor callback to stop waiting at once (the awaited thing can no longer happen). */
export class GiveUp extends Error {}

/** Polls until fn returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastErr = err;
    }
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr ? `: ${lastErr}` : ""}`);
}
