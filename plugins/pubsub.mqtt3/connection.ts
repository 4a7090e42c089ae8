// What pubsub.mqtt3 and bindings.mqtt3 share: the connection metadata (Dapr's `url`, `caCert`, `clientCert`,
// `clientKey`), topic checks, and an MQTT.js client whose QoS 1 acknowledgements wait for the handler's answer.
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { field, MetadataError } from "../../src/components/metadata-schema.js";

/** How long connecting, subscribing or publishing may take before it fails (daprd's mqtt3 waits 20 s). */
export const MQTT_WAIT_MS = 20_000;

export const connectionMetadata = {
  url: field.string({ required: true, sensitive: true }),
  caCert: field.string({}),
  clientCert: field.string({}),
  clientKey: field.string({ sensitive: true }),
};

export interface ConnectionSettings {
  url: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
}

/** Dapr's URL schemes: tcp/mqtt plain, ssl/mqtts/tcps/tls over TLS; user and password may be in the URL. */
export function connectOptions(md: ConnectionSettings): IClientOptions {
  let url: URL;
  try {
    url = new URL(md.url);
  } catch {
    throw new MetadataError("url", 'metadata field "url": not a URL; expected tcp://[user[:password]@]host[:port] or ssl://…');
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const tls = ["ssl", "mqtts", "tcps", "tls"].includes(scheme);
  if (!tls && !["tcp", "mqtt"].includes(scheme)) {
    throw new MetadataError("url", `metadata field "url": unsupported scheme "${scheme}"; use tcp:// (or mqtt://) or ssl:// (or mqtts://, tcps://, tls://)`);
  }
  if (!url.hostname) throw new MetadataError("url", 'metadata field "url": no host');
  for (const name of ["caCert", "clientCert", "clientKey"] as const) {
    if (md[name] && !md[name]!.includes("-----BEGIN ")) throw new MetadataError(name, `metadata field "${name}": not PEM (no "-----BEGIN" line)`);
  }
  if (!md.clientCert !== !md.clientKey) throw new MetadataError("clientCert", 'metadata fields "clientCert" and "clientKey" go together');
  return {
    protocol: tls ? "mqtts" : "mqtt",
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || (tls ? 8883 : 1883)),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    ...(tls ? { ca: md.caCert || undefined, cert: md.clientCert || undefined, key: md.clientKey || undefined, rejectUnauthorized: true } : {}),
  };
}

/** Why `topic` cannot be published to (undefined when it can): no wildcards, not empty, at most 65535 bytes. */
export function publishTopicProblem(topic: string): string | undefined {
  if (!topic) return "topic is empty";
  if (/[+#\u0000]/.test(topic)) return `MQTT topic "${topic}" contains a wildcard (+ or #) or NUL, which only subscriptions may use`;
  if (Buffer.byteLength(topic) > 65535) return "MQTT topic is longer than 65535 bytes";
  return undefined;
}

/** Why `filter` cannot be subscribed to: "#" only as the last level, "+" only as a whole level (MQTT 4.7.1). */
export function topicFilterProblem(filter: string): string | undefined {
  if (!filter) return "topic is empty";
  if (filter.includes("\u0000") || Buffer.byteLength(filter) > 65535) return `MQTT topic filter "${filter}" has NUL or is longer than 65535 bytes`;
  const levels = filter.split("/");
  for (const [i, level] of levels.entries()) {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return `MQTT topic filter "${filter}": "#" must be a whole level and the last one`;
    if (level.includes("+") && level !== "+") return `MQTT topic filter "${filter}": "+" must be a whole level`;
  }
  return undefined;
}

/** `$share/{group}/{filter}` split, or undefined for a filter that is not a shared subscription. */
export function sharedSubscription(filter: string): { group: string; filter: string } | undefined {
  const m = /^\$share\/([^/+#]+)\/(.+)$/.exec(filter);
  return m ? { group: m[1]!, filter: m[2]! } : undefined;
}

/** Takes a message; `ack` sends its QoS 1 acknowledgement, held until then (a no-op for QoS 0). */
export type MessageListener = (packet: IPublishPacket, ack: () => void) => void;

/**
 * Connects, waiting for the broker's CONNACK (or failing with its reason), and hands every message to `onMessage`; the
 * client reconnects by itself afterwards and resubscribes what it had subscribed.
 *
 * MQTT.js acknowledges a QoS 1 message as soon as its 'message' listeners ran, and its own hook for later acks
 * (customHandleAcks, MQTT 5 only) stops reading the socket until the ack. daprd acknowledges after the app's success,
 * so the PUBACK the client sends is held here (its `_sendPacket`) until ack() releases it. A PUBACK still held when the
 * connection drops is forgotten: the broker redelivers the message to a persistent session, or drops it with a clean
 * one.
 */
export async function connectAcking(md: ConnectionSettings, extra: IClientOptions, onMessage: MessageListener): Promise<MqttClient> {
  const client = mqtt.connect({ ...connectOptions(md), reconnectPeriod: 1_000, connectTimeout: MQTT_WAIT_MS, ...extra });
  const internals = client as unknown as { _sendPacket(packet: { cmd: string; messageId?: number }, cb?: (err?: Error) => void, ...rest: unknown[]): void };
  const send = internals._sendPacket.bind(client);
  const held = new Map<number, () => void>();
  const answered = new Set<number>();
  internals._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd !== "puback" || packet.messageId === undefined) return send(packet, cb, ...rest);
    const id = packet.messageId;
    if (answered.delete(id)) return send(packet, cb, ...rest);
    held.set(id, () => send(packet));
    cb?.(); // the client goes on reading
  };
  client.on("close", () => {
    held.clear();
    answered.clear();
  });
  const ack = (id: number | undefined) => {
    if (id === undefined) return;
    const release = held.get(id);
    if (!release) return void answered.add(id);
    held.delete(id);
    if (client.connected) release();
  };
  // Listening before the CONNACK is in: a persistent session's unacknowledged messages come right after it.
  client.on("message", (_topic, _payload, packet) => onMessage(packet, () => ack(packet.messageId)));
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const ok = () => {
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => fail(new Error(`no answer from the MQTT broker within ${MQTT_WAIT_MS} ms`)), MQTT_WAIT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        client.off("connect", ok);
        client.off("error", fail);
      };
      client.once("connect", ok);
      client.once("error", fail);
    });
  } catch (err) {
    client.end(true);
    throw new Error(`cannot connect to the MQTT broker at ${redactedUrl(md.url)}: ${(err as Error).message}`);
  }
  client.on("error", () => {}); // reconnects are logged by the plugins; an unhandled 'error' would throw
  return client;
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}

/** Resolves with what `op` resolves, or rejects after MQTT_WAIT_MS naming `what`. */
export async function withinWait<T>(op: Promise<T>, what: string, ms = MQTT_WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer from the MQTT broker within ${ms} ms`)), ms)));
  try {
    return await Promise.race([op, late]);
  } finally {
    clearTimeout(timer);
  }
}
