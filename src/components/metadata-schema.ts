// Declares the metadata a plugin accepts and turns Dapr's string-valued metadata into typed values.
// Every failure names the component and the field, so a broken YAML file points at its own mistake.

type FieldType = "string" | "int" | "number" | "bool" | "duration";

interface FieldSpec<T> {
  type: FieldType;
  required?: boolean;
  default?: T;
  oneOf?: readonly string[];
  min?: number;
  sensitive?: boolean;
  aliases?: readonly string[];
}

type TypeOf<F extends FieldSpec<any>> = F["type"] extends "string"
  ? string
  : F["type"] extends "bool"
    ? boolean
    : number;

export type MetadataSchema = Record<string, FieldSpec<any>>;

export type MetadataOf<S extends MetadataSchema> = {
  [K in keyof S]: S[K] extends { required: true } | { default: any } ? TypeOf<S[K]> : TypeOf<S[K]> | undefined;
};

export class MetadataError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = "MetadataError";
  }
}

type Opts<T> = Omit<FieldSpec<T>, "type">;

export const field = {
  string: <O extends Opts<string>>(o: O = {} as O) => ({ type: "string" as const, ...o }),
  int: <O extends Opts<number>>(o: O = {} as O) => ({ type: "int" as const, ...o }),
  number: <O extends Opts<number>>(o: O = {} as O) => ({ type: "number" as const, ...o }),
  bool: <O extends Opts<boolean>>(o: O = {} as O) => ({ type: "bool" as const, ...o }),
  /** Milliseconds; accepts Go-style "1m30s", "500ms", or a bare number of seconds. */
  duration: <O extends Opts<number>>(o: O = {} as O) => ({ type: "duration" as const, ...o }),
};

export function parseMetadata<S extends MetadataSchema>(schema: S, raw: Record<string, string>): MetadataOf<S> {
  const out: Record<string, unknown> = {};
  const lower = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [name, spec] of Object.entries(schema)) {
    const names = [name, ...(spec.aliases ?? [])];
    const value = names.map((n) => lower.get(n.toLowerCase())).find((v) => v !== undefined);
    if (value === undefined || value === "") {
      if (spec.required) throw new MetadataError(name, `metadata field "${name}" is required`);
      out[name] = spec.default;
      continue;
    }
    out[name] = convert(name, spec, value);
  }
  return out as MetadataOf<S>;
}

function convert(name: string, spec: FieldSpec<any>, value: string): unknown {
  const fail = (what: string) => new MetadataError(name, `metadata field "${name}": ${what}, got "${value}"`);
  switch (spec.type) {
    case "string":
      if (spec.oneOf && !spec.oneOf.includes(value)) throw fail(`must be one of ${spec.oneOf.join("|")}`);
      return value;
    case "bool": {
      const v = value.toLowerCase();
      if (["true", "1", "yes", "on"].includes(v)) return true;
      if (["false", "0", "no", "off"].includes(v)) return false;
      throw fail("must be a boolean (true|false)");
    }
    case "int":
    case "number": {
      const n = Number(value);
      if (!Number.isFinite(n) || (spec.type === "int" && !Number.isInteger(n))) throw fail(`must be ${spec.type === "int" ? "an integer" : "a number"}`);
      if (spec.min !== undefined && n < spec.min) throw fail(`must be >= ${spec.min}`);
      return n;
    }
    case "duration": {
      const ms = parseDuration(value);
      if (ms === undefined) throw fail('must be a duration such as "30s", "1m30s" or "500ms"');
      if (spec.min !== undefined && ms < spec.min) throw fail(`must be >= ${spec.min}ms`);
      return ms;
    }
  }
}

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration ("1h2m3.5s", "250ms") or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * unitMs[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === s.length && consumed > 0 ? total : undefined;
}

/**
 * Whether a per-request metadata value means "yes", as Dapr's utils.IsTruthy reads it ("true", "t", "1", "yes",
 * "y", "on", any case, spaces around ignored). Anything else, including "", is false.
 */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ["true", "t", "1", "yes", "y", "on"].includes(value.trim().toLowerCase());
}
