export type MemberState = "alive" | "suspect" | "dead" | "left";

export interface Member {
  id: string;
  /** Where the transport reaches this member; opaque to the protocol. */
  addr: string;
  incarnation: number;
  state: MemberState;
  metadata: Record<string, string>;
}

/** A piece of gossip: what `from` believes about member `id`. */
export interface Update {
  id: string;
  addr: string;
  incarnation: number;
  state: MemberState;
  metadata: Record<string, string>;
  from: string;
}

export type Message =
  | { type: "ping"; seq: number; from: string; fromAddr: string; gossip: Update[] }
  | { type: "ack"; seq: number; from: string; gossip: Update[] }
  | { type: "nack"; seq: number; from: string }
  | { type: "ping-req"; seq: number; from: string; fromAddr: string; target: string; targetAddr: string; gossip: Update[] }
  | { type: "gossip"; from: string; gossip: Update[] }
  | { type: "sync"; from: string; fromAddr: string; members: Update[]; reply: boolean };

export interface Transport {
  send(addr: string, msg: Message): void;
}

export { realClock, type Clock } from "../../clock.js";

export type MembershipEventType = "join" | "suspect" | "alive" | "fail" | "leave" | "update";

export interface MembershipEvent {
  type: MembershipEventType;
  member: Member;
}

export interface SwimConfig {
  /** Protocol period: one probe per period. */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others (ping-req). */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly (k). */
  indirectChecks: number;
  /** Suspicion lasts suspicionMult * log10(n) * probeInterval at least ... */
  suspicionMult: number;
  /** ... and at most suspicionMaxMult times that, shortened by independent confirmations (Lifeguard). */
  suspicionMaxMult: number;
  /** Each update is piggybacked about retransmitMult * log10(n + 1) times. */
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  maxPiggyback: number;
  /** Full-state exchange with one random member, to heal partitions and repair lost gossip. */
  syncIntervalMs: number;
  /** Local health multiplier ceiling (Lifeguard): timeouts stretch up to (max + 1) times. */
  maxLocalHealth: number;
  /** Forget dead/left members after this long. */
  deadReclaimMs: number;
}

export const defaultSwimConfig: SwimConfig = {
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  indirectChecks: 3,
  suspicionMult: 1,
  suspicionMaxMult: 2,
  retransmitMult: 4,
  gossipIntervalMs: 100,
  gossipNodes: 3,
  maxPiggyback: 8,
  syncIntervalMs: 15_000,
  maxLocalHealth: 8,
  deadReclaimMs: 10 * 60_000,
};
