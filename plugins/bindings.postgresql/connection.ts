// Dapr's PostgreSQL components take either a URL ("postgres://user:pw@host:5432/db?sslmode=disable") or libpq's
// keyword/value form ("host=localhost user=postgres password=example port=5432 database=my_db"). The `postgres`
// package reads only URLs, so the keyword form is turned into its options here. pgx's pool settings (pool_*)
// are not server parameters: pool_max_conns sizes the pool, the others are dropped. In both forms libpq's ssl
// settings (sslmode, sslrootcert, sslcert, sslkey, sslpassword) become postgres.js's `ssl` option, other libpq
// client settings are dropped, DateStyle is dropped (the binding's parsers need the ISO style it sets), and any
// other key (search_path, timezone, application_name, …) is sent to the server as a run-time parameter.
import { readFileSync } from "node:fs";
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
  const ssl: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const value = url.searchParams.getAll(key).at(-1)!;
    const lower = key.toLowerCase();
    if (lower === "pool_max_conns") options.max = count(key, value, 1);
    else if (SSL_KEYS.has(lower)) ssl[lower] = value;
    else if (lower === "datestyle") ignored.push(key);
    else if (lower.startsWith("pool_") || CLIENT_ONLY.has(lower)) ignored.push(key);
    else continue; // a run-time parameter postgres.js sends as it is, or one of its own (connect_timeout, …)
    url.searchParams.delete(key);
  }
  if (Object.keys(ssl).length) options.ssl = sslOption(ssl, ignored);
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

const SSL_KEYS = new Set(["sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword"]);
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
/** libpq settings of the client itself: never sent to the server (it would refuse them as unknown parameters). */
const CLIENT_ONLY = new Set([
  "passfile", "channel_binding", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
  "tcp_user_timeout", "replication", "gssencmode", "sslcompression", "sslcrl", "sslcrldir", "sslsni", "sslcertmode",
  "sslnegotiation", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
  "gssdelegation", "service", "load_balance_hosts", "require_auth", "fallback_application_name", "client_encoding",
  "hostaddr", "sslinline",
]);

function readSslFile(key: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read the ${key} file ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * libpq's ssl settings as postgres.js's `ssl` option. sslmode: disable → no TLS; allow/prefer → TLS if the server
 * offers it, unverified (postgres.js cannot send a client certificate in these modes: sslcert/sslkey are then
 * ignored); require → TLS, unverified, but verified as verify-ca when sslrootcert is given (as libpq does);
 * verify-ca → the chain is checked, not the host name; verify-full → both. sslrootcert=system: the system's CAs,
 * verify-full. With no sslmode: prefer, as libpq.
 */
function sslOption(ssl: Record<string, string>, ignored: string[]): postgres.Options<{}>["ssl"] {
  let mode = ssl.sslmode ?? "prefer";
  if (!SSL_MODES.includes(mode)) throw new Error(`sslmode must be one of ${SSL_MODES.join("|")}, got "${mode}"`);
  const rootcert = ssl.sslrootcert;
  if (rootcert === "system" && mode !== "disable") mode = "verify-full";
  if (mode === "require" && rootcert) mode = "verify-ca";
  if (mode === "disable" || mode === "allow" || mode === "prefer") {
    for (const key of ["sslrootcert", "sslcert", "sslkey", "sslpassword"]) if (key in ssl) ignored.push(key);
    return mode === "disable" ? false : mode;
  }
  const tls: Record<string, unknown> = { rejectUnauthorized: mode !== "require" };
  if (rootcert && rootcert !== "system") tls.ca = readSslFile("sslrootcert", rootcert);
  if (ssl.sslcert) tls.cert = readSslFile("sslcert", ssl.sslcert);
  if (ssl.sslkey) tls.key = readSslFile("sslkey", ssl.sslkey);
  if (ssl.sslpassword) tls.passphrase = ssl.sslpassword;
  if (mode === "verify-ca") tls.checkServerIdentity = () => undefined;
  return tls as postgres.Options<{}>["ssl"];
}

function fromKeywords(text: string): Connection {
  const options: postgres.Options<{}> = {};
  const connection: Record<string, string> = {};
  const ignored: string[] = [];
  const ssl: Record<string, string> = {};
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
      case "sslrootcert":
      case "sslcert":
      case "sslkey":
      case "sslpassword":
        ssl[key] = value;
        break;
      case "connect_timeout":
        options.connect_timeout = count(key, value, 0);
        break;
      case "pool_max_conns":
        options.max = count(key, value, 1);
        break;
      default:
        if (key === "datestyle" || key.startsWith("pool_") || CLIENT_ONLY.has(key)) ignored.push(key);
        else connection[key] = value; // a run-time parameter: search_path, timezone, application_name, …
    }
  }
  if (Object.keys(ssl).length) options.ssl = sslOption(ssl, ignored);
  if (Object.keys(connection).length) options.connection = connection;
  return { options, ignored };
}
