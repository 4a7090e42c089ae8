import { udxRuntimePlugin } from "./udx/plugin.js";
import { admissionProof, proofMatches } from "./keys.js";
import { joinHostPort, type Logger } from "./udp-transport.js";
import { settlesWithin } from "../resiliency/sleep.js";
import { guardResponderEcho, recheckFirewall } from "./hyperdht-fixes.js";

/** hyperswarm's public bootstrap nodes, used when no --cluster-bootstrap is given. */
export const DEFAULT_BOOTSTRAP: string[] | undefined = undefined;

const HELLO_TIMEOUT_MS = 10_000;
/** A connection over which not one byte has arrived by then is dead: its far end never existed (docs/cluster.md, "Stalled connections"). */
const FIRST_BYTE_TIMEOUT_MS = 2_000;
const REJECT_LINGER_MS = 1_000;
/** Immediate re-dials of one peer after stalled connections, before leaving it to hyperswarm's backoff and the lonely refresh. */
const REDIALS_PER_PEER = 5;
const LONELY_REFRESH_MS = 5_000;
/** How long close() waits for hyperswarm and the DHT to wind down (an unreachable DHT must not hold up a stop). */
const CLOSE_BOUND_MS = 700;
const FORCE_CLOSE_BOUND_MS = 300;

/** Where joining the DHT has got to: `joining` until the topic is announced, `failed` if the DHT could not be joined. */
export type DiscoveryState = "joining" | "announced" | "failed" | "closed";

export interface DiscoveryStatus {
  state: DiscoveryState;
  /** Swarm connections whose peer proved the secret / failed the proof / stalled before sending anything. */
  admitted: number;
  rejected: number;
  stalled: number;
  error?: string;
}

export interface PeerHello {
  id: string;
  /** The peer's membership (SWIM) UDP port. */
  port: number;
  /** The address the peer advertises in gossip (may be unreachable from here, e.g. behind a NAT). */
  addr?: string;
}

/** A swarm connection to an admitted peer: SWIM messages can ride on it instead of UDP. */
export interface PeerLink {
  write(data: Uint8Array): boolean;
  on(event: "data", fn: (data: Buffer) => void): unknown;
  once(event: "close", fn: () => void): unknown;
  readonly destroyed: boolean;
}

export interface SwarmDiscoveryOptions {
  topic: Buffer;
  proofKey: Buffer;
  hello: PeerHello;
  bootstrap?: string[];
  /** Bind the DHT to this host (e.g. 127.0.0.1 in tests). */
  host?: string;
  /** A DHT node already started with prepareDht() (bootstrap and host are then its own); closing the discovery destroys it. */
  prepared?: Promise<PreparedDht>;
  log: Logger;
  /** Called with the SWIM address of every admitted peer. */
  onPeer: (addr: string, hello: PeerHello, link: PeerLink) => void;
}

let pluginRegistered = false;

/** Loads hyperswarm with the TypeScript UDX standing in for udx-native (no-op inside a compiled binary) and hyperdht's hole punch corrected. */
async function loadSwarmModules(): Promise<{ Hyperswarm: any; DHT: any }> {
  if (!pluginRegistered) {
    Bun.plugin(udxRuntimePlugin);
    pluginRegistered = true;
  }
  const [hs, dht, puncher] = await Promise.all([import("hyperswarm"), import("hyperdht"), import("hyperdht/lib/holepuncher.js")]);
  guardResponderEcho(puncher.default ?? puncher);
  return { Hyperswarm: hs.default ?? hs, DHT: dht.default ?? dht };
}

export interface PreparedDht {
  Hyperswarm: any;
  dht: any;
}

/**
 * Starts a DHT node and waits for its bootstrap and its reachability check (reachable nodes — same host, LAN,
 * public address — are then connected to directly instead of by hole punching). It needs no cluster key, so
 * it can run while the keys are derived.
 */
export async function prepareDht(bootstrap: string[] | undefined, host: string | undefined): Promise<PreparedDht> {
  const { Hyperswarm, DHT } = await loadSwarmModules();
  const dht = new DHT({ bootstrap: parseBootstrap(bootstrap), host });
  await dht.ready();
  await recheckFirewall(dht);
  return { Hyperswarm, dht };
}

function parseBootstrap(list: string[] | undefined): Array<{ host: string; port: number }> | undefined {
  if (!list || list.length === 0) return DEFAULT_BOOTSTRAP as undefined;
  return list.map((s) => {
    const i = s.lastIndexOf(":");
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  });
}

/**
 * Finds cluster peers on the hyperswarm DHT under the cluster's topic. Every connection must prove it
 * holds the cluster secret (HMAC of the Noise handshake hash) before it is told anything about this member
 * or its SWIM address is used; others are logged and dropped.
 */
export class SwarmDiscovery {
  private swarm: any = null;
  private session: any = null;
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private readonly redials = new Map<string, number>();
  private closed = false;
  rejected = 0;
  admitted = 0;
  stalled = 0;
  state: DiscoveryState = "joining";
  error?: string;

  constructor(private readonly opts: SwarmDiscoveryOptions) {}

  status(): DiscoveryStatus {
    const { state, admitted, rejected, stalled, error } = this;
    return { state, admitted, rejected, stalled, ...(error ? { error } : {}) };
  }

  /** Joins the DHT and announces the topic; resolves once announced. state follows along (also when run in the background). */
  async start(): Promise<void> {
    try {
      await this.join();
      if (!this.closed) this.state = "announced";
    } catch (err) {
      if (this.closed) return;
      this.state = "failed";
      this.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  private async join(): Promise<void> {
    const { Hyperswarm, dht } = await (this.opts.prepared ?? prepareDht(this.opts.bootstrap, this.opts.host));
    if (this.closed) {
      await settlesWithin(dht.destroy({ force: true }), FORCE_CLOSE_BOUND_MS);
      return;
    }
    this.swarm = new Hyperswarm({ dht });
    this.swarm.on("connection", (conn: any, info: any) => this.onConnection(conn, info));
    this.session = this.swarm.join(this.opts.topic, { server: true, client: true });
    await this.session.flushed();
    if (this.closed) return;
    // hyperswarm looks the topic up again only every ~10 minutes; members that started at the same
    // moment would miss each other until then, so look again while nobody has been admitted.
    this.refreshTimer = setInterval(() => {
      if (this.admitted === 0) this.session?.refresh().catch(() => {});
    }, LONELY_REFRESH_MS);
    this.refreshTimer.unref?.();
  }

  /** Resolves once the topic is announced on the DHT. */
  async flushed(): Promise<void> {
    await this.swarm?.flush();
  }

  /**
   * Admission: each side first sends only its proof (HMAC of this connection's Noise handshake hash and
   * its role, so it cannot be replayed on another connection or reflected). Member id, SWIM port and
   * address follow only once the peer's proof has checked out, so an outsider who found the topic learns
   * nothing else.
   */
  private onConnection(conn: any, info: any): void {
    const remote = info?.publicKey ? Buffer.from(info.publicKey).toString("hex").slice(0, 16) : "?";
    const drop = (msg: string) => {
      this.opts.log("warn", msg, { peer: remote });
      conn.destroy();
    };
    conn.on("error", () => {});
    // Unfinished admission: drop the connection and dial the peer again at once rather than at the next refresh.
    const stalledDrop = (msg: string) => {
      this.stalled++;
      conn.once("close", () => this.redial(conn.remotePublicKey));
      drop(msg);
    };
    const firstByte = setTimeout(() => {
      if (conn.rawBytesRead === 0) stalledDrop("cluster: swarm connection delivered nothing before admission; re-dialing");
    }, FIRST_BYTE_TIMEOUT_MS);
    const timer = setTimeout(() => stalledDrop("cluster: peer did not complete admission; re-dialing"), HELLO_TIMEOUT_MS);
    conn.once("close", () => {
      clearTimeout(firstByte);
      clearTimeout(timer);
    });

    const handshakeHash: Buffer = conn.handshakeHash;
    const expected = admissionProof(this.opts.proofKey, handshakeHash, !conn.isInitiator);
    conn.write(admissionProof(this.opts.proofKey, handshakeHash, conn.isInitiator));
    let proven = false;
    const onData = (data: Buffer) => {
      if (!proven) {
        if (!proofMatches(expected, data)) {
          this.rejected++;
          this.opts.log("warn", "cluster: rejected peer without the cluster secret", { peer: remote });
          // end(), not destroy(): our proof, written a moment ago, still reaches the peer (on a direct
          // connection it is often still queued), so a member holding what we lack rejects us in turn.
          conn.end();
          setTimeout(() => conn.destroy(), REJECT_LINGER_MS).unref?.();
          return;
        }
        proven = true;
        conn.write(Buffer.from(JSON.stringify(this.opts.hello)));
        return;
      }
      conn.off("data", onData);
      clearTimeout(timer);
      const hello = parseHello(data);
      const host = conn.rawStream?.remoteHost;
      if (!hello || !host) return drop("cluster: admitted peer sent an unusable hello; dropping");
      this.admitted++;
      this.admittedPeer(conn.remotePublicKey);
      this.opts.onPeer(joinHostPort(host, hello.port), hello, conn);
    };
    conn.on("data", onData);
  }

  /** Dials the peer again now (as an explicit hyperswarm peer), a bounded number of times. */
  private redial(publicKey: Buffer | undefined): void {
    if (!publicKey || !this.swarm || this.closed) return;
    const key = Buffer.from(publicKey).toString("hex");
    const n = (this.redials.get(key) ?? 0) + 1;
    this.redials.set(key, n);
    if (n <= REDIALS_PER_PEER) this.swarm.joinPeer(publicKey);
    else this.swarm.leavePeer(publicKey);
  }

  private admittedPeer(publicKey: Buffer | undefined): void {
    if (!publicKey || !this.swarm) return;
    if (this.redials.delete(Buffer.from(publicKey).toString("hex"))) this.swarm.leavePeer(publicKey);
  }

  async close(): Promise<void> {
    const announced = this.state === "announced";
    this.closed = true;
    this.state = "closed";
    const swarm = this.swarm;
    this.swarm = null;
    this.session = null;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (!swarm) return;
    // Gracefully (unannounce, close connections) when the DHT was joined and answers in time. Otherwise force:
    // hyperswarm's own force still waits for the announcer's queries, the DHT's closes the sockets under them.
    if (announced && (await settlesWithin(swarm.destroy(), CLOSE_BOUND_MS))) return;
    await settlesWithin(Promise.all([swarm.dht.destroy({ force: true }), swarm.destroy({ force: true })]), FORCE_CLOSE_BOUND_MS);
  }
}

function parseHello(data: Buffer): PeerHello | undefined {
  let hello: Partial<PeerHello>;
  try {
    hello = JSON.parse(data.toString("utf8"));
  } catch {
    return undefined;
  }
  const portOk = Number.isInteger(hello?.port) && hello.port! > 0 && hello.port! <= 65535;
  const addrOk = hello?.addr === undefined || typeof hello.addr === "string";
  return portOk && addrOk && typeof hello.id === "string" && hello.id ? (hello as PeerHello) : undefined;
}
