import type { UDX } from "./udx/udx.js";
import type { UDXSocket } from "./udx/socket.js";
import { open, seal } from "./keys.js";
import type { Message, Transport } from "./membership/types.js";
import type { PeerLink } from "./discovery.js";

/** Largest gossip datagram we send; a full-state sync beyond it is trimmed (the next sync sends more). */
const MAX_DATAGRAM = 60_000;

export interface Logger {
  (level: "debug" | "info" | "warn", msg: string, fields?: Record<string, unknown>): void;
}

/**
 * SWIM's transport: sealed JSON datagrams over a UDX socket (Bun UDP). Datagrams that do not open with
 * the cluster key are dropped and logged, at most once a minute per source.
 */
export class UdpTransport implements Transport {
  readonly socket: UDXSocket;
  onMessage: (msg: Message) => void = () => {};
  private readonly rejectedLogged = new Map<string, number>();
  private readonly links = new Map<string, PeerLink>();

  constructor(
    udx: UDX,
    private readonly key: Buffer,
    private readonly log: Logger,
    bind: { host: string; port: number },
  ) {
    this.socket = udx.createSocket();
    this.socket.bind(bind.port, bind.host);
    this.socket.on("message", (buf: Buffer, from: { host: string; port: number }) => this.receive(buf, from));
  }

  get port(): number {
    return this.socket.address()!.port;
  }

  /** Messages to `addr` go over `link` while it is open (hyperswarm connections cross NATs; UDP may not). */
  attachLink(addr: string, link: PeerLink): void {
    this.links.set(addr, link);
    link.on("data", (buf: Buffer) => this.receive(buf, { host: `swarm:${addr}`, port: 0 }));
    link.once("close", () => {
      if (this.links.get(addr) === link) this.links.delete(addr);
    });
  }

  send(addr: string, msg: Message): void {
    let body: Buffer = Buffer.from(JSON.stringify(msg));
    if (body.byteLength > MAX_DATAGRAM && msg.type === "sync") body = trimSync(msg);
    const link = this.links.get(addr);
    if (link && !link.destroyed) {
      link.write(seal(this.key, body));
      return;
    }
    const { host, port } = splitHostPort(addr);
    try {
      this.socket.trySend(seal(this.key, body), port, host);
    } catch (err) {
      this.log("debug", "cluster: send failed", { addr, error: String(err) });
    }
  }

  private receive(buf: Buffer, from: { host: string; port: number }): void {
    const plain = open(this.key, buf);
    if (!plain) return this.reject(from, "not sealed with the cluster secret");
    let msg: Message;
    try {
      msg = JSON.parse(plain.toString("utf8"));
    } catch {
      return this.reject(from, "malformed");
    }
    this.onMessage(msg);
  }

  private reject(from: { host: string; port: number }, why: string): void {
    const key = `${from.host}:${from.port}`;
    const now = Date.now();
    if ((this.rejectedLogged.get(key) ?? 0) > now - 60_000) return;
    this.rejectedLogged.set(key, now);
    this.log("warn", "cluster: rejected datagram", { from: key, reason: why });
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

function trimSync(msg: Extract<Message, { type: "sync" }>): Buffer {
  const members = msg.members.slice();
  let body = Buffer.from(JSON.stringify(msg));
  while (body.byteLength > MAX_DATAGRAM && members.length > 1) {
    members.splice(1 + Math.floor(Math.random() * (members.length - 1)), Math.ceil(members.length / 4));
    body = Buffer.from(JSON.stringify({ ...msg, members }));
  }
  return body;
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  if (i === -1) throw new Error(`expected host:port, got ${addr}`);
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad port in ${addr}`);
  return { host, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
