// The sidecar transport as a service for other blocks: send a request of a kind of their own to a peer sidecar, and
// serve that kind here. The invoke module owns the transport and provides this once it listens; the caller's
// identity is checked as for invocation (see InvokeBlock.serve).
import { Slot } from "../../runtime/block.js";
import type { Caller } from "../../security/access-control.js";
import type { TransportRequest, TransportResponse } from "../../transport/transport.js";

/** Serves one request kind; `caller` is the verified peer (undefined without mTLS, where no identity is known). */
export type PeerHandler = (req: TransportRequest, caller: Caller | undefined) => Promise<TransportResponse>;

export interface PeerLink {
  /** This sidecar's transport address, as peers reach it. */
  readonly address: string;
  /** This sidecar's namespace (peers of other namespaces are refused). */
  readonly namespace: string;
  request(address: string, req: TransportRequest, signal?: AbortSignal): Promise<TransportResponse>;
  /** Serves `kind` ("invoke" and "grpc-proxy" are invocation's own). */
  handle(kind: string, handler: PeerHandler): void;
}

export const peerLinkSlot = new Slot<PeerLink>("peer-link");
