// Name resolution: how a sidecar finds the transport address of another app's sidecar by app id.
// Plugins: nameresolution.local (same host, zero configuration), nameresolution.static (a fixed map);
// the cluster block adds a membership-based one.
import type { Component } from "../plugin.js";

export interface SelfRegistration {
  appId: string;
  namespace: string;
  /** Transport address peers use, e.g. "mtls://127.0.0.1:41234". */
  address: string;
  pid: number;
  /** This sidecar's HTTP API port (informational). */
  httpPort?: number;
}

export interface NameResolver extends Component {
  /** Addresses of the app's sidecars, best first; empty when the app is unknown. */
  resolve(appId: string, namespace?: string): Promise<string[]>;
  /** Announces this sidecar; called once its transport listens. */
  register(self: SelfRegistration): Promise<void>;
  /** Optional: withdraws the registration early in shutdown, before the transport closes. */
  unregister?(): Promise<void>;
}

export const DEFAULT_NAMESPACE = "default";
