// Translates a validated state query into SQL for stores that keep JSON documents (sqlite, postgresql).
import type { Query, QueryFilter } from "../contracts/state.js";
import { leaf, parsePath } from "./query.js";

export interface SqlDialect {
  /** SQL for the JSON value at a path of the document column. */
  jsonAt(path: string[]): string;
  /** A placeholder for the n-th (1-based) parameter, cast to what jsonAt yields. */
  placeholder(n: number): string;
  /** Converts a filter value into the parameter bound to that placeholder. */
  param(value: unknown): unknown;
}

export function filterToSql(filter: QueryFilter, d: SqlDialect, params: unknown[]): string {
  if ("AND" in filter) return `(${filter.AND.map((f) => filterToSql(f, d, params)).join(" AND ")})`;
  if ("OR" in filter) return `(${filter.OR.map((f) => filterToSql(f, d, params)).join(" OR ")})`;
  const { op, path, value } = leaf(filter)!;
  const expr = d.jsonAt(parsePath(path, "filter"));
  const bind = (v: unknown) => {
    params.push(d.param(v));
    return d.placeholder(params.length);
  };
  switch (op) {
    case "EQ": return `${expr} = ${bind(value)}`;
    case "NEQ": return `${expr} IS DISTINCT FROM ${bind(value)}`;
    case "GT": return `${expr} > ${bind(value)}`;
    case "GTE": return `${expr} >= ${bind(value)}`;
    case "LT": return `${expr} < ${bind(value)}`;
    case "LTE": return `${expr} <= ${bind(value)}`;
    case "IN": {
      const list = value as unknown[];
      return list.length === 0 ? "FALSE" : `${expr} IN (${list.map(bind).join(", ")})`;
    }
  }
}

export function orderToSql(q: Query, d: SqlDialect): string {
  const parts = (q.sort ?? []).map((s) => {
    const expr = d.jsonAt(parsePath(s.key, "sort"));
    return `${expr} IS NULL, ${expr} ${s.order}`;
  });
  return `ORDER BY ${[...parts, "key"].join(", ")}`;
}

export function pageOf(q: Query): { limit?: number; offset: number } {
  return { limit: q.page?.limit, offset: q.page?.token ? Number(q.page.token) : 0 };
}

/** The next page's token: set only when the page came back full. */
export function nextToken(q: Query, returned: number): string | undefined {
  const { limit, offset } = pageOf(q);
  return limit && returned === limit ? String(offset + limit) : undefined;
}

/** Upper bound for a key range scan over every key that starts with prefix. */
export function prefixEnd(prefix: string): string {
  return prefix + "\u{10FFFF}";
}
