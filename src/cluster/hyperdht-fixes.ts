// Two corrections to the published hyperdht 6.34 / dht-rpc 6.27 that stalled cluster formation on a LAN or a
// local testnet (docs/cluster.md, "Formation"). Both apply to the loaded modules, at run time and in the
// compiled binary alike; each checks that the code it corrects is still there, so an upgrade that changes it
// fails loudly in test/cluster/hyperdht-fixes.test.ts instead of silently dropping the fix.
import { settlesWithin } from "../resiliency/sleep.js";

/** How long joining the DHT waits for dht-rpc's firewall check (a LAN answers in milliseconds; a NAT never does). */
export const FIREWALL_CHECK_BOUND_MS = 1_500;

interface HolepuncherClass {
  prototype: { _onholepunchmessage(msg: unknown, addr: unknown, ref: unknown): void };
}

const guarded = new WeakSet<object>();

/**
 * The responder (server) side of a hole punch answers the client's probes only once it has committed to
 * punching. Stock hyperdht echoes every probe that reaches its punch socket, also while its NAT analysis is
 * still running; where the client's low-TTL "session" probe is delivered (LAN, loopback) the client takes
 * the echo for a finished punch and connects to a socket that the server closes a moment later when it
 * gives up the punch. This is the guard proposed upstream in holepunchto/hyperdht#278 (open, not released).
 */
export function guardResponderEcho(Holepuncher: HolepuncherClass): void {
  const proto = Holepuncher.prototype;
  if (guarded.has(proto)) return;
  const original = proto._onholepunchmessage;
  if (typeof original !== "function") throw new Error("hyperdht Holepuncher has no _onholepunchmessage: re-check src/cluster/hyperdht-fixes.ts");
  proto._onholepunchmessage = function (this: { isInitiator: boolean; punching: boolean }, msg, addr, ref) {
    if (!this.isInitiator && !this.punching) return;
    original.call(this, msg, addr, ref);
  };
  guarded.add(proto);
}

interface FirewallCheckable {
  firewalled: boolean;
  destroyed?: boolean;
  _updateNetworkState?: (onlyFirewall: boolean) => Promise<boolean>;
}

/**
 * Runs dht-rpc's own reachability check once the node has bootstrapped, if it still counts itself as
 * firewalled. dht-rpc starts that check on the first reply of its bootstrap query and waits for it only if
 * the reply to it arrives before the query finishes: on a LAN or loopback the query finishes first, so a
 * node anyone can reach stays "firewalled" for ~20 minutes (its next check), and every connection to it
 * needs a hole punch whose NAT analysis needs 3 answering DHT nodes. Checked, such a node is connected to
 * directly. Behind a NAT the check fails as it would have anyway. Returns whether the node is reachable.
 */
export async function recheckFirewall(dht: FirewallCheckable, boundMs = FIREWALL_CHECK_BOUND_MS): Promise<boolean> {
  if (!dht.firewalled || dht.destroyed) return !dht.firewalled;
  if (typeof dht._updateNetworkState !== "function") throw new Error("dht-rpc has no _updateNetworkState: re-check src/cluster/hyperdht-fixes.ts");
  await settlesWithin(dht._updateNetworkState(true), boundMs);
  return !dht.firewalled;
}
