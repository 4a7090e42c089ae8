// The state query language (Dapr's alpha query API): validation, and an evaluator for stores that filter in memory.
import type { Query, QueryFilter, StateItem } from "../contracts/state.js";
import { parseJson } from "../../json.js";
import { ownValue } from "../../dictionary.js";

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

const comparisons = ["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN"] as const;
export type ComparisonOp = (typeof comparisons)[number];
const PATH_SEGMENT = /^[A-Za-z0-9_$-]+$/;
export const MAX_PAGE_LIMIT = 10_000;
/** AND/OR nesting deeper than this is refused (deeper input would overflow the parser's and SQL builder's stack). */
export const MAX_FILTER_DEPTH = 32;

/** Splits "person.org" into ["person", "org"], rejecting anything that could escape a JSON path. */
export function parsePath(path: string, where: string): string[] {
  const parts = path.split(".");
  if (!path || parts.some((p) => !PATH_SEGMENT.test(p))) {
    throw new QueryError(`${where}: "${path}" is not a valid field path (dot-separated names of letters, digits, _ - $)`);
  }
  return parts;
}

/** Validates an untrusted query body and returns it typed. */
export function parseQuery(body: unknown, keyPrefix: string): Query {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new QueryError("query must be a JSON object with filter, sort, page");
  const b = body as Record<string, unknown>;
  const unknownField = Object.keys(b).find((k) => !["filter", "sort", "page"].includes(k));
  if (unknownField) throw new QueryError(`query: unknown field "${unknownField}" (expected filter, sort, page)`);
  const q: Query = { keyPrefix };
  if (b.filter !== undefined && !(typeof b.filter === "object" && b.filter && Object.keys(b.filter).length === 0)) {
    q.filter = parseFilter(b.filter, "filter");
  }
  if (b.sort !== undefined) {
    if (!Array.isArray(b.sort)) throw new QueryError("query.sort must be a list of {key, order}");
    q.sort = b.sort.map((s, i) => {
      const where = `query.sort[${i}]`;
      if (!s || typeof s.key !== "string") throw new QueryError(`${where}.key must be a string`);
      parsePath(s.key, `${where}.key`);
      const order = s.order === undefined ? "ASC" : s.order;
      if (order !== "ASC" && order !== "DESC") throw new QueryError(`${where}.order must be ASC or DESC`);
      return { key: s.key, order };
    });
  }
  if (b.page !== undefined) {
    const p = b.page as Record<string, unknown>;
    if (!p || typeof p !== "object") throw new QueryError("query.page must be an object {limit, token}");
    const limit = p.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || (limit as number) < 0 || (limit as number) > MAX_PAGE_LIMIT)) {
      throw new QueryError(`query.page.limit must be an integer from 0 to ${MAX_PAGE_LIMIT}`);
    }
    const token = p.token;
    if (token !== undefined && (typeof token !== "string" || (token !== "" && !(/^\d+$/.test(token) && Number(token) <= Number.MAX_SAFE_INTEGER)))) {
      throw new QueryError("query.page.token must be a token returned by an earlier query");
    }
    q.page = { limit: (limit as number) || undefined, token: (token as string) || undefined };
  }
  return q;
}

function parseFilter(raw: unknown, where: string, depth = 1): QueryFilter {
  if (depth > MAX_FILTER_DEPTH) throw new QueryError(`filter: AND/OR nested deeper than ${MAX_FILTER_DEPTH} levels`);
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new QueryError(`${where} must be an object with one operator`);
  const entries = Object.entries(raw);
  if (entries.length !== 1) throw new QueryError(`${where} must have exactly one operator, got ${entries.length}`);
  const [op, arg] = entries[0];
  if (op === "AND" || op === "OR") {
    if (!Array.isArray(arg) || arg.length === 0) throw new QueryError(`${where}.${op} must be a non-empty list of filters`);
    return { [op]: arg.map((f, i) => parseFilter(f, `${where}.${op}[${i}]`, depth + 1)) } as QueryFilter;
  }
  if (!(comparisons as readonly string[]).includes(op)) {
    throw new QueryError(`${where}: unknown operator "${op}" (expected ${[...comparisons, "AND", "OR"].join(", ")})`);
  }
  if (!arg || typeof arg !== "object" || Array.isArray(arg) || Object.keys(arg).length !== 1) {
    throw new QueryError(`${where}.${op} must be an object with exactly one field, e.g. {"${op}": {"person.org": "A"}}`);
  }
  const [path, value] = Object.entries(arg)[0];
  parsePath(path, `${where}.${op}`);
  if (op === "IN" && !Array.isArray(value)) throw new QueryError(`${where}.IN.${path} must be a list of values`);
  if (op !== "IN" && (value === null || typeof value === "object")) {
    throw new QueryError(`${where}.${op}.${path} must be a string, number or boolean`);
  }
  return { [op]: { [path]: value } } as QueryFilter;
}

/** Breaks a leaf filter into its parts; undefined for AND/OR. */
export function leaf(f: QueryFilter): { op: ComparisonOp; path: string; value: unknown } | undefined {
  const [op, arg] = Object.entries(f)[0] as [string, Record<string, unknown>];
  if (op === "AND" || op === "OR") return undefined;
  const [path, value] = Object.entries(arg)[0];
  return { op: op as ComparisonOp, path, value };
}

// ---- In-memory evaluation ----

function valueAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = ownValue(cur as Record<string, unknown>, part);
  }
  return cur;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export function matches(doc: unknown, f: QueryFilter): boolean {
  if ("AND" in f) return f.AND.every((x) => matches(doc, x));
  if ("OR" in f) return f.OR.some((x) => matches(doc, x));
  const { op, path, value } = leaf(f)!;
  const v = valueAt(doc, path);
  switch (op) {
    case "EQ": return v === value;
    case "NEQ": return v !== value;
    case "IN": return (value as unknown[]).includes(v);
    case "GT": return v !== undefined && compare(v, value) > 0;
    case "GTE": return v !== undefined && compare(v, value) >= 0;
    case "LT": return v !== undefined && compare(v, value) < 0;
    case "LTE": return v !== undefined && compare(v, value) <= 0;
  }
}

export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return parseJson(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** Filters, sorts and pages items in memory; keys in results keep the store's full key. */
export function runQueryInMemory(items: StateItem[], q: Query): { results: StateItem[]; token?: string } {
  const docs = items.map((item) => ({ item, doc: decodeJson(item.value) })).filter((d) => d.doc !== undefined);
  const filtered = q.filter ? docs.filter((d) => matches(d.doc, q.filter!)) : docs;
  filtered.sort((x, y) => {
    for (const s of q.sort ?? []) {
      const c = compare(valueAt(x.doc, s.key), valueAt(y.doc, s.key));
      if (c !== 0) return s.order === "DESC" ? -c : c;
    }
    return x.item.key < y.item.key ? -1 : x.item.key > y.item.key ? 1 : 0;
  });
  const offset = q.page?.token ? Number(q.page.token) : 0;
  const limit = q.page?.limit;
  const page = filtered.slice(offset, limit ? offset + limit : undefined).map((d) => d.item);
  const next = limit && offset + limit < filtered.length ? String(offset + limit) : undefined;
  return { results: page, token: next };
}
