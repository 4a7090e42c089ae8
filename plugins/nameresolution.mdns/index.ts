// nameresolution.mdns: sidecars on one LAN find each other with multicast DNS (RFC 6762), Dapr's self-hosted
// default. Each sidecar answers queries for "<appId>.<namespace>._rapr._tcp.local" with a TXT record
// "address=<transport address>", announces itself when it registers and says goodbye (TTL 0) when it stops.
// An advertised loopback or unspecified host is replaced by the address the answer came from, so a sidecar
// listening on all interfaces is reachable from other hosts.
// Metadata: port (5353), group (224.0.0.251), interface (IPv4 address of the interface to use; default: the
// system's), timeoutMs (how long resolve waits for an answer, 500), ttlSeconds (120).
import dgram from "node:dgram";
import { definePlugin } from "../../src/components/plugin.js";
import { field } from "../../src/components/metadata-schema.js";
import { DEFAULT_NAMESPACE, type NameResolver, type SelfRegistration } from "../../src/components/contracts/nameresolution.js";
import { decodeMessage, encodeQuery, encodeTxtResponse, TYPE_TXT } from "./dns.js";

export interface MdnsOptions {
  port: number;
  group: string;
  iface?: string;
  timeoutMs: number;
  ttlSeconds: number;
}

export function serviceName(appId: string, namespace: string): string {
  return `${appId}.${namespace}._rapr._tcp.local`.toLowerCase();
}

export class MdnsResolver implements NameResolver {
  private self?: SelfRegistration;
  private readonly cache = new Map<string, { addresses: Map<string, number> }>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  private constructor(private readonly socket: dgram.Socket, private readonly opts: MdnsOptions) {}

  static async create(opts: MdnsOptions): Promise<MdnsResolver> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(opts.port, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.addMembership(opts.group, opts.iface);
    if (opts.iface) socket.setMulticastInterface(opts.iface);
    socket.setMulticastLoopback(true);
    socket.setMulticastTTL(255);
    const r = new MdnsResolver(socket, opts);
    socket.on("message", (msg, rinfo) => r.onMessage(new Uint8Array(msg), rinfo.address));
    socket.on("error", () => {});
    return r;
  }

  async register(self: SelfRegistration): Promise<void> {
    this.self = self;
    this.announce(this.opts.ttlSeconds);
  }

  async resolve(appId: string, namespace = DEFAULT_NAMESPACE): Promise<string[]> {
    const name = serviceName(appId, namespace);
    const cached = this.fresh(name);
    if (cached.length) return cached;
    if (this.closed) return [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.opts.timeoutMs);
      const set = this.waiters.get(name) ?? new Set();
      this.waiters.set(name, set);
      set.add(done);
      function done() {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      }
      this.send(encodeQuery(name, TYPE_TXT));
    });
    return this.fresh(name);
  }

  /** Drops what is known of an app (after a failed call, the next resolve asks the network again). */
  forget(appId: string, namespace = DEFAULT_NAMESPACE): void {
    this.cache.delete(serviceName(appId, namespace));
  }

  async unregister(): Promise<void> {
    if (this.self) this.announce(0);
    this.self = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.unregister();
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private fresh(name: string): string[] {
    const entry = this.cache.get(name);
    if (!entry) return [];
    const now = Date.now();
    const out: string[] = [];
    for (const [addr, expires] of entry.addresses) {
      if (expires > now) out.push(addr);
      else entry.addresses.delete(addr);
    }
    return out;
  }

  private announce(ttl: number): void {
    const s = this.self;
    if (!s) return;
    this.send(encodeTxtResponse([{ name: serviceName(s.appId, s.namespace), ttl, texts: [`address=${s.address}`, `pid=${s.pid}`] }]));
  }

  private send(packet: Uint8Array): void {
    if (this.closed) return;
    this.socket.send(packet, this.opts.port, this.opts.group);
  }

  private onMessage(packet: Uint8Array, from: string): void {
    const msg = decodeMessage(packet);
    if (!msg) return;
    if (msg.kind === "query") {
      if (this.self && msg.name === serviceName(this.self.appId, this.self.namespace)) this.announce(this.opts.ttlSeconds);
      return;
    }
    for (const a of msg.answers) {
      const text = a.texts.find((t) => t.startsWith("address="));
      if (!text) continue;
      const address = reachable(text.slice(8), from);
      const entry = this.cache.get(a.name) ?? { addresses: new Map<string, number>() };
      this.cache.set(a.name, entry);
      if (a.ttl === 0) entry.addresses.delete(address);
      else entry.addresses.set(address, Date.now() + a.ttl * 1000);
      for (const wake of [...(this.waiters.get(a.name) ?? [])]) wake();
    }
  }
}

/** "mtls://0.0.0.0:7000" announced from 192.168.1.5 → "mtls://192.168.1.5:7000". */
function reachable(address: string, from: string): string {
  const m = /^([a-z]+:\/\/)?(0\.0\.0\.0|127\.\d+\.\d+\.\d+|\[::\]|\[::1\]|localhost):(\d+)$/.exec(address);
  if (!m || from.startsWith("127.") || from === "0.0.0.0" || !/^\d+\.\d+\.\d+\.\d+$/.test(from)) return address;
  return `${m[1] ?? ""}${from}:${m[3]}`;
}

export default definePlugin({
  type: "nameresolution.mdns",
  metadata: {
    port: field.int({ default: 5353, min: 1 }),
    group: field.string({ default: "224.0.0.251" }),
    interface: field.string(),
    timeoutMs: field.int({ default: 500, min: 1 }),
    ttlSeconds: field.int({ default: 120, min: 1 }),
  },
  async create(md) {
    return MdnsResolver.create({ port: md.port, group: md.group, iface: md.interface || undefined, timeoutMs: md.timeoutMs, ttlSeconds: md.ttlSeconds });
  },
});
