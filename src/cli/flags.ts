// `rapr run` flags: daprd / dapr run names, types, defaults. A bad flag or value is a one-line error (exit 2).

export type FlagType = "string" | "int" | "bool" | "list" | "csv";

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  /** Allowed values for strings. */
  oneOf?: readonly string[];
  min?: number;
  max?: number;
  aliases?: string[];
  /** A daprd / dapr run flag rapr accepts but has no use for: what rapr does instead (one warning at start). */
  inert?: string;
  /** Parsed by this function instead of by type (e.g. a resource quantity such as 16Mi). */
  parse?: (raw: string) => string | number | boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface ParsedFlags {
  values: FlagValues;
  rest: string[];
  /** Names (spec.name) of the flags the user gave, as opposed to defaults. */
  given: Set<string>;
}

/** `command` names the subcommand in "see rapr <command> --help". */
export function parseFlags(specs: FlagSpec[], argv: string[], command = "run"): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of [s.name, ...(s.aliases ?? [])]) byName.set(n, s);
  const values: FlagValues = {};
  for (const s of specs) values[s.name] = Array.isArray(s.default) ? [...s.default] : s.default;
  const seenList = new Set<string>();
  const given = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-")) break;
    const m = /^(--?)([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`bad argument "${arg}"`);
    const spec = byName.get(m[2]);
    if (!spec) throw new UsageError(`unknown flag ${m[1]}${m[2]} (see rapr ${command} --help)`);
    let raw = m[3];
    if (raw === undefined) {
      if (spec.type === "bool") {
        const next = argv[i + 1];
        raw = next === "true" || next === "false" ? (i++, next) : "true";
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag --${spec.name} needs a value`);
        raw = argv[++i];
      }
    }
    // An empty value leaves a flag at its default, as daprd command lines in container specs write unset options.
    if (raw === "" && spec.type !== "list" && spec.type !== "bool") continue;
    given.add(spec.name);
    const value = convert(spec, raw);
    if (spec.type === "list" || spec.type === "csv") {
      if (!seenList.has(spec.name)) values[spec.name] = [];
      seenList.add(spec.name);
      (values[spec.name] as string[]).push(...(value as string[]));
    } else {
      values[spec.name] = value;
    }
  }
  return { values, rest: argv.slice(i), given };
}

/** The flags a user gave that rapr accepts without acting on them, as one warning line (undefined: none). */
export function inertFlagsWarning(specs: FlagSpec[], given: Set<string>): string | undefined {
  const byNote = new Map<string, string[]>();
  for (const s of specs) if (s.inert && given.has(s.name)) byNote.set(s.inert, [...(byNote.get(s.inert) ?? []), `--${s.name}`]);
  const notes = [...byNote].map(([note, flags]) => `${flags.join(", ")} (${note})`);
  return notes.length ? `accepted for compatibility, not used: ${notes.join("; ")}` : undefined;
}


function convert(spec: FlagSpec, raw: string): string | number | boolean | string[] {
  const bad = (what: string) => new UsageError(`invalid value "${raw}" for flag --${spec.name}: ${what}`);
  if (spec.parse) {
    try {
      return spec.parse(raw);
    } catch (err) {
      throw bad((err as Error).message);
    }
  }
  switch (spec.type) {
    case "bool":
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw bad("expected true or false");
    case "int": {
      if (!/^-?\d+$/.test(raw)) throw bad("expected an integer");
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw bad(`must be >= ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`must be <= ${spec.max}`);
      return n;
    }
    case "string":
      if (spec.oneOf && !spec.oneOf.includes(raw)) throw bad(`expected one of ${spec.oneOf.join(", ")}`);
      return raw;
    case "list":
      if (raw === "") throw bad("must not be empty");
      return [raw];
    case "csv": {
      const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
      if (!spec.oneOf) return items;
      const lower = items.map((item) => item.toLowerCase());
      if (lower.some((item) => !spec.oneOf!.includes(item))) throw bad(`expected ${spec.oneOf.join(", ")} (comma-separated)`);
      return lower;
    }
  }
}

export function formatHelp(specs: FlagSpec[]): string {
  return specs
    .map((s) => {
      const left = `  --${s.name}${s.type === "bool" ? "" : ` <${s.type === "int" ? "n" : "value"}>`}`;
      const def = s.default === undefined || (Array.isArray(s.default) && s.default.length === 0) ? "" : ` (default ${Array.isArray(s.default) ? s.default.join(",") : s.default})`;
      return `${left.padEnd(42)} ${s.help}${def}`;
    })
    .join("\n");
}
