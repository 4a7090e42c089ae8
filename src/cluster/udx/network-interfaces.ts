import { EventEmitter, once } from "node:events";
import { networkInterfaces as osNetworkInterfaces } from "node:os";

export interface NetworkInterface {
  name: string;
  host: string;
  family: 4 | 6;
  internal: boolean;
}

/** libudx polls the interface list; it checks every 5 s. */
const POLL_INTERVAL_MS = 5000;

export function listInterfaces(): NetworkInterface[] {
  const out: NetworkInterface[] = [];
  for (const [name, addrs] of Object.entries(osNetworkInterfaces())) {
    for (const a of addrs ?? []) {
      const family = a.family === "IPv4" || (a.family as unknown) === 4 ? 4 : 6;
      out.push({ name, host: a.address, family, internal: a.internal });
    }
  }
  return out;
}

function sameInterfaces(a: NetworkInterface[], b: NetworkInterface[]): boolean {
  const key = (l: NetworkInterface[]) =>
    l.map((i) => `${i.name}|${i.host}|${i.family}|${i.internal}`).sort().join(",");
  return a.length === b.length && key(a) === key(b);
}

/** udx-native's NetworkInterfaces watcher: `change` fires with the new list when it differs. */
export class NetworkInterfaces extends EventEmitter {
  interfaces: NetworkInterface[];
  private timer: ReturnType<typeof setInterval> | null = null;
  private destroying: Promise<unknown> | null = null;

  constructor(private readonly list: () => NetworkInterface[] = listInterfaces) {
    super();
    this.interfaces = list();
  }

  watch(): this {
    if (this.timer || this.destroying) return this;
    this.timer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
    this.timer.unref?.();
    return this;
  }

  unwatch(): this {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this;
  }

  poll(): void {
    const next = this.list();
    if (sameInterfaces(next, this.interfaces)) return;
    this.interfaces = next;
    this.emit("change", next);
  }

  destroy(): Promise<unknown> {
    if (this.destroying) return this.destroying;
    this.unwatch();
    this.destroying = once(this, "close");
    queueMicrotask(() => this.emit("close"));
    return this.destroying;
  }

  [Symbol.iterator](): Iterator<NetworkInterface> {
    return this.interfaces[Symbol.iterator]();
  }
}
