// The outside services some tests need (PostgreSQL, NATS, Redis, a nats-server executable), and guards that skip those tests
// with the reason when a service is missing, so `npm test` passes on a machine without them. With
// RAPR_REQUIRE_BACKENDS set (.ci/run sets it after starting the services) a missing service fails the file instead.
import { connect } from "node:net";

export const PG_URL = process.env.RAPR_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
export const NATS_URL = process.env.RAPR_TEST_NATS ?? "127.0.0.1:4222";
/** An MQTT broker (Mosquitto) with anonymous access, as an mqtt3 component's url names it. */
export const MQTT_URL = process.env.RAPR_TEST_MQTT ?? "tcp://127.0.0.1:1883";
/** host:port, as a Redis component's redisHost names it. */
export const REDIS_HOST = process.env.RAPR_TEST_REDIS ?? "127.0.0.1:6379";

export type Backend = "postgres" | "nats" | "nats-server" | "redis" | "mqtt";

const PROBE_TIMEOUT_MS = 1_000;

const probes = new Map<Backend, Promise<string | undefined>>();

/**
 * True when `backend` cannot be used, for `describe.skipIf` / `test.skipIf`; says why once per run. Throws instead
 * when RAPR_REQUIRE_BACKENDS is set, so the file fails where the environment promised the service.
 */
export async function missing(backend: Backend): Promise<boolean> {
  const reason = await probe(backend);
  if (reason === undefined) return false;
  if (process.env.RAPR_REQUIRE_BACKENDS) throw new Error(`RAPR_REQUIRE_BACKENDS is set but ${backend} is unavailable: ${reason}`);
  return true;
}

/** The reason `backend` is unavailable (undefined when it is available), looked up once per run. */
function probe(backend: Backend): Promise<string | undefined> {
  let reason = probes.get(backend);
  if (!reason) {
    reason = whyUnavailable(backend).then((why) => {
      if (why !== undefined && !process.env.RAPR_REQUIRE_BACKENDS) console.warn(`skipping the tests that need ${backend}: ${why}`);
      return why;
    });
    probes.set(backend, reason);
  }
  return reason;
}

function whyUnavailable(backend: Backend): Promise<string | undefined> {
  switch (backend) {
    case "postgres": {
      const url = new URL(PG_URL);
      return unreachable(url.hostname, Number(url.port || 5432), "RAPR_TEST_PG");
    }
    case "nats": {
      const url = new URL(`nats://${NATS_URL.split(",")[0]!.replace(/^\w+:\/\//, "")}`);
      return unreachable(url.hostname, Number(url.port || 4222), "RAPR_TEST_NATS");
    }
    case "redis": {
      const url = new URL(`redis://${REDIS_HOST}`);
      return unreachable(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || 6379), "RAPR_TEST_REDIS");
    }
    case "mqtt": {
      const url = new URL(MQTT_URL);
      return unreachable(url.hostname, Number(url.port || 1883), "RAPR_TEST_MQTT");
    }
    case "nats-server":
      return Promise.resolve(Bun.which("nats-server") ? undefined : "no nats-server executable on PATH");
  }
}

/** Undefined when a TCP connection to host:port opens within the probe timeout, else the reason. */
function unreachable(host: string, port: number, envVar: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reason?: string) => {
      socket.destroy();
      resolve(reason === undefined ? undefined : `${host}:${port} ${reason} (${envVar} names another)`);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(`did not answer within ${PROBE_TIMEOUT_MS} ms`));
    socket.once("connect", () => done());
    socket.once("error", (err) => done(`is not reachable: ${err.message}`));
  });
}
