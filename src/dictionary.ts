// Plain objects keyed by names from outside (requests, files, peers): without care, "__proto__", "constructor",
// "toString", … read Object.prototype's members and "__proto__" writes replace the prototype. These make such names
// ordinary keys.

/** An empty object without a prototype, to fill with outside keys. */
export function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** obj[key] when key is obj's own property; undefined for a missing key and for inherited names ("toString"). */
export function ownValue<T>(obj: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
