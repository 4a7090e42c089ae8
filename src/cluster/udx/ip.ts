import { isIP as netIsIP } from "node:net";

export function isIPv4(host: string): boolean {
  return netIsIP(host) === 4;
}

export function isIPv6(host: string): boolean {
  return netIsIP(stripZone(host)) === 6;
}

export function isIP(host: string): 0 | 4 | 6 {
  if (isIPv4(host)) return 4;
  if (isIPv6(host)) return 6;
  return 0;
}

function stripZone(host: string): string {
  const i = host.indexOf("%");
  return i === -1 ? host : host.slice(0, i);
}

/** Bun reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; udx reports them as IPv4. */
export function unmapV4(host: string): { host: string; family: 4 | 6 } {
  if (host.startsWith("::ffff:") && isIPv4(host.slice(7))) return { host: host.slice(7), family: 4 };
  return { host, family: isIPv4(host) ? 4 : 6 };
}
