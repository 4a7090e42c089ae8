// Where actors live: the one question the actor runtime asks (Placement), and the view it is answered from (Hosts).

/** One live sidecar whose app hosts actors. */
export interface HostInfo {
  /** Stable identity, hashed into the ring: every node must spell a host's id the same way. */
  readonly id: string;
  /** Where the sidecar transport reaches it. */
  readonly address: string;
  /** The actor types its app hosts, each with how many of them are active there. */
  readonly actorTypes: Readonly<Record<string, number>>;
}

/** A snapshot of the live hosts, as one node currently sees them (SWIM views are eventually consistent). */
export interface HostsView {
  /** Grows with every change this node sees; compare only with versions from the same node. */
  readonly version: number;
  readonly hosts: readonly HostInfo[];
}

/** The hosts view, fed by cluster membership (SWIM metadata) or by the same-host registry. */
export interface Hosts {
  view(): HostsView;
  /** Called after every change; returns the unsubscribe function. */
  onChange(listener: (view: HostsView) => void): () => void;
}

/** Where an actor lives, and the version of the view that said so. */
export interface Location {
  /** The owner's HostInfo.id. */
  readonly host: string;
  readonly address: string;
  readonly epoch: number;
}

/** A locally active actor whose owner changed with a new view; `to` is undefined when no live host serves its type. */
export interface ActorMove {
  readonly actorType: string;
  readonly actorId: string;
  readonly to: Location | undefined;
}

export interface Placement {
  /** This node's HostInfo.id. */
  readonly self: string;
  /** The owner of (type, id) in this node's current view; undefined when no live host serves the type. */
  locate(actorType: string, actorId: string): Location | undefined;
  /** The activation table reports what is active here, so that a new view can tell which of those moved. */
  activated(actorType: string, actorId: string): void;
  deactivated(actorType: string, actorId: string): void;
  /** Locally active actors whose owner is no longer this node after a view change. Returns the unsubscribe. */
  onMoved(listener: (moves: readonly ActorMove[]) => void): () => void;
}

/** Chooses one host of a type for an actor id; built from that type's hosts, the same on every node. */
export interface OwnerStrategy {
  owner(actorId: string): string | undefined;
}
