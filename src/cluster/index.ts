// Cluster formation: discovery (hyperswarm topic and/or static peers), secret-based admission and SWIM
// membership over sealed UDP gossip. The lead wires this to --cluster* flags and the cluster API.
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { UDX } from "./udx/udx.js";
import { listInterfaces } from "./udx/network-interfaces.js";
import { clusterSecretWeakness, deriveClusterKeys } from "./keys.js";
import { Swim } from "./membership/swim.js";
import { SwarmDiscovery, prepareDht, type DiscoveryStatus, type PreparedDht } from "./discovery.js";
import { UdpTransport, joinHostPort, type Logger } from "./udp-transport.js";
import type { Member, MembershipEvent, SwimConfig } from "./membership/types.js";

export type { DiscoveryStatus } from "./discovery.js";
export type { Member, MembershipEvent, MemberState, MembershipEventType, SwimConfig } from "./membership/types.js";
export { defaultSwimConfig } from "./membership/types.js";

export interface ClusterNodeOptions {
  /** Cluster name: with the secret, it selects the DHT topic. */
  name: string;
  /** At least 16 characters and ~64 bits (see clusterSecretWeakness); a weaker one is refused. */
  secret: string;
  metadata: Record<string, string>;
  /** DHT bootstrap nodes, host:port. Default: hyperswarm's public bootstrap nodes. */
  bootstrap?: string[];
  /** Static SWIM peers (host:port of their membership UDP port), for LANs without a DHT. */
  peers?: string[];
  /** Set false to skip the DHT entirely (static peers only). Default: true. */
  discovery?: boolean;
  /** Member id; default random. */
  id?: string;
  /** UDP bind for membership traffic. Defaults: 0.0.0.0, port 0 (any). */
  host?: string;
  port?: number;
  /** Host that other members use to reach this one when it is not learnt from the connection. */
  advertiseHost?: string;
  /** Bind the DHT to this host (127.0.0.1 keeps a test on loopback). */
  dhtHost?: string;
  swim?: Partial<SwimConfig>;
  log?: Logger;
}

export interface ClusterNode {
  readonly id: string;
  /** host:port of this member's membership socket. */
  readonly address: string;
  members(): Member[];
  member(id: string): Member | undefined;
  on(event: "event", listener: (e: MembershipEvent) => void): this;
  on(event: MembershipEvent["type"], listener: (member: Member) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  /** Membership events from now on, until the node closes. */
  events(): AsyncIterableIterator<MembershipEvent>;
  setMetadata(metadata: Record<string, string>): void;
  /** How DHT discovery is doing (it runs in the background); undefined without DHT discovery. */
  discoveryStatus(): DiscoveryStatus | undefined;
  /** Announces departure, gossips it briefly, then closes. */
  leave(): Promise<void>;
  close(): Promise<void>;
}

const silent: Logger = () => {};

class RaprClusterNode extends EventEmitter implements ClusterNode {
  readonly id: string;
  readonly address: string;
  private closed = false;
  private retryTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly swim: Swim,
    private readonly transport: UdpTransport,
    private readonly discovery: SwarmDiscovery | null,
    address: string,
    private readonly staticPeers: string[],
  ) {
    super();
    this.id = swim.id;
    this.address = address;
    swim.on((e) => {
      this.emit("event", e);
      this.emit(e.type, e.member);
    });
    if (staticPeers.length > 0) {
      swim.join(staticPeers);
      // Keep knocking on static peers that are not (yet) members: they may start later than us.
      this.retryTimer = setInterval(() => this.rejoinStaticPeers(), swim.config.syncIntervalMs / 3);
      this.retryTimer.unref?.();
    }
  }

  private rejoinStaticPeers(): void {
    const known = new Set(this.swim.members().filter((m) => m.state === "alive" || m.state === "suspect").map((m) => m.addr));
    this.swim.join(this.staticPeers.filter((p) => !known.has(p)));
  }

  members(): Member[] {
    return this.swim.members();
  }

  member(id: string): Member | undefined {
    return this.swim.member(id);
  }

  setMetadata(metadata: Record<string, string>): void {
    this.swim.setMetadata(metadata);
  }

  discoveryStatus(): DiscoveryStatus | undefined {
    return this.discovery?.status();
  }

  events(): AsyncIterableIterator<MembershipEvent> {
    const queue: MembershipEvent[] = [];
    let wake: (() => void) | null = null;
    const push = (e: MembershipEvent) => {
      queue.push(e);
      wake?.();
    };
    const done = () => wake?.();
    this.on("event", push);
    this.once("close", done);
    const self = this;
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next(): Promise<IteratorResult<MembershipEvent>> {
        while (queue.length === 0 && !self.closed) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        return { value: undefined, done: true };
      },
      async return(): Promise<IteratorResult<MembershipEvent>> {
        self.off("event", push);
        self.off("close", done);
        return { value: undefined, done: true };
      },
    };
  }

  async leave(): Promise<void> {
    if (this.closed) return;
    await this.swim.leave();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.swim.stop();
    await Promise.allSettled([this.discovery?.close(), this.transport.close()]);
    this.emit("close");
  }
}

export async function createClusterNode(opts: ClusterNodeOptions): Promise<ClusterNode> {
  const log = opts.log ?? silent;
  const weakness = clusterSecretWeakness(opts.secret);
  if (weakness) throw new Error(weakness);
  // The DHT node needs no key: it bootstraps while scrypt derives them (on a busy host both take seconds).
  const prepared = opts.discovery !== false ? prepareDht(opts.bootstrap, opts.dhtHost) : undefined;
  prepared?.catch(() => {}); // reported by discovery.start()
  try {
    return await startClusterNode(opts, log, prepared);
  } catch (err) {
    void prepared?.then(({ dht }) => dht.destroy({ force: true })).catch(() => {});
    throw err;
  }
}

async function startClusterNode(opts: ClusterNodeOptions, log: Logger, prepared: Promise<PreparedDht> | undefined): Promise<ClusterNode> {
  const keys = await deriveClusterKeys(opts.name, opts.secret);
  const id = opts.id ?? randomBytes(8).toString("hex");
  const udx = new UDX();
  const transport = new UdpTransport(udx, keys.sealKey, log, { host: opts.host ?? "0.0.0.0", port: opts.port ?? 0 });
  const advertise = opts.advertiseHost ?? defaultAdvertiseHost(opts.host);
  const address = joinHostPort(advertise, transport.port);

  const swim = new Swim({ id, addr: address, metadata: opts.metadata, transport, config: opts.swim });
  transport.onMessage = (msg) => swim.handle(msg);
  swim.start();

  let discovery: SwarmDiscovery | null = null;
  if (prepared) {
    discovery = new SwarmDiscovery({
      prepared,
      topic: keys.topic,
      proofKey: keys.proofKey,
      hello: { id, port: transport.port, addr: address },
      bootstrap: opts.bootstrap,
      host: opts.dhtHost,
      log,
      onPeer: (addr, hello, link) => {
        log("debug", "cluster: admitted swarm peer", { peer: hello.id, addr });
        // Gossip to this peer's advertised address rides on the (NAT-traversing) swarm connection.
        if (hello.addr) transport.attachLink(hello.addr, link);
        swim.join([addr]);
      },
    });
    // In the background: an unreachable or slow DHT must not hold up the caller (the sidecar's APIs).
    discovery.start().catch((err) => log("warn", "cluster: could not join the DHT", { error: String(err?.message ?? err) }));
  }
  return new RaprClusterNode(swim, transport, discovery, address, opts.peers ?? []);
}

/** The bind host if it is specific, else the first external IPv4 address, else loopback. */
function defaultAdvertiseHost(bindHost: string | undefined): string {
  if (bindHost && bindHost !== "0.0.0.0" && bindHost !== "::") return bindHost;
  return listInterfaces().find((i) => i.family === 4 && !i.internal)?.host ?? "127.0.0.1";
}
