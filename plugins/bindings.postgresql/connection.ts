// Dapr's PostgreSQL components take either a URL ("postgres://user:pw@host:5432/db?sslmode=disable") or libpq's
// keyword/value form ("host=localhost user=postgres password=example port=5432 database=my_db"). The `postgres`
// package reads only URLs, so the keyword form is turned into its options here. pgx's pool settings (pool_*)
// are not server parameters: pool_max_conns sizes the pool, the others are dropped.
import type postgres from "postgres";

export interface Connection {
  /** Pass as the first argument to postgres(); undefined when `options` says everything. */
  url?: string;
  options: postgres.Options<{}>;
  /** Keywords that have no meaning here. */
  ignored: string[];
}

const isUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s.trim());

export function parseConnectionString(text: string): Connection {
  return isUrl(text) ? fromUrl(text.trim()) : fromKeywords(text);
}

function fromUrl(text: string): Connection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a valid URL: ${urlProblem(text)}`);
  }
  for (const part of [url.username, url.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new Error("not a valid URL: the user or password has a malformed %-escape");
    }
  }
  const options: postgres.Options<{}> = {};
  const ignored: string[] = [];
  for (const key of [...url.searchParams.keys()]) {
    if (!key.startsWith("pool_")) continue;
    if (key === "pool_max_conns") options.max = count(key, url.searchParams.get(key)!, 1);
    else ignored.push(key);
    url.searchParams.delete(key);
  }
  return { url: url.toString(), options, ignored };
}

/** Which part of a URL the URL parser refused; never quotes the text (it may hold a password). */
function urlProblem(text: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/is.exec(text.trim());
  if (!m) return "expected postgres://user:password@host:port/database";
  const at = m[1].lastIndexOf("@");
  const userinfo = at >= 0 ? m[1].slice(0, at) : "";
  const hostport = m[1].slice(at + 1);
  if (userinfo && !URL.canParse(`postgres://${userinfo}@h/`)) return "the user or password holds characters that must be %-escaped";
  if (hostport.includes(",")) return "several hosts in one URL are not supported";
  const port = /:([^:\]]*)$/.exec(hostport)?.[1];
  if (port && !validPort(port)) return "the port must be a number from 1 to 65535";
  if (!URL.canParse(`postgres://${hostport}/`)) return "the host is malformed";
  if (!URL.canParse(`postgres://h${m[2]}`)) return "the database name or the parameters are malformed";
  return "malformed";
}

const validPort = (text: string) => /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;

/** A whole number of at least `min` for keyword `key` (values of these keywords are no secrets). */
function count(key: string, value: string, min: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new Error(`${key} must be a whole number of at least ${min}, got "${value}"`);
  return Number(value);
}

/**
 * Splits libpq's `key=value key='quoted \' value'` form. A failure names where reading stopped and the last key
 * read, never the text itself: it may be part of a password.
 */
export function splitKeywords(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  let lastKey: string | undefined;
  while ((m = re.exec(text))) {
    lastKey = m[1].toLowerCase();
    out.set(lastKey, m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]);
    end = re.lastIndex;
  }
  const rest = text.slice(end);
  if (rest.trim()) {
    const offset = end + (rest.length - rest.trimStart().length) + 1; // 1-based
    const after = lastKey ? `after the value of "${lastKey}"` : "at the start";
    throw new Error(`cannot read key=value at character ${offset} (${after}); quote a value holding spaces as key='a value'`);
  }
  return out;
}

const sslModes: Record<string, postgres.Options<{}>["ssl"]> = {
  disable: false,
  allow: "allow",
  prefer: "prefer",
  require: "require",
  "verify-ca": { rejectUnauthorized: true, checkServerIdentity: () => undefined },
  "verify-full": "verify-full",
};

function fromKeywords(text: string): Connection {
  const options: postgres.Options<{}> = {};
  const connection: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [key, value] of splitKeywords(text)) {
    switch (key) {
      case "host":
        options.host = value;
        break;
      case "hostaddr":
        options.host ??= value;
        break;
      case "port":
        if (!validPort(value)) throw new Error(`port must be a number from 1 to 65535, got "${value}"`);
        options.port = Number(value);
        break;
      case "user":
        options.username = value;
        break;
      case "password":
        options.password = value;
        break;
      case "dbname":
      case "database":
        options.database = value;
        break;
      case "sslmode":
        if (!(value in sslModes)) throw new Error(`sslmode must be one of ${Object.keys(sslModes).join("|")}, got "${value}"`);
        options.ssl = sslModes[value];
        break;
      case "connect_timeout":
        options.connect_timeout = count(key, value, 0);
        break;
      case "application_name":
        connection.application_name = value;
        break;
      case "pool_max_conns":
        options.max = count(key, value, 1);
        break;
      default:
        ignored.push(key);
    }
  }
  if (Object.keys(connection).length) options.connection = connection;
  return { options, ignored };
}
