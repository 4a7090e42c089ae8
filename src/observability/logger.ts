export type LogLevel = "debug" | "info" | "warn" | "error";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  json: boolean;
  appId?: string;
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions, scope = "rapr"): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < rank[opts.level]) return;
    const time = new Date().toISOString();
    if (opts.json) {
      write(JSON.stringify({ time, level, scope, app_id: opts.appId, msg, ...fields }));
      return;
    }
    const extra = fields ? " " + Object.entries(fields).map(([k, v]) => `${k}=${formatValue(v)}`).join(" ") : "";
    write(`time="${time}" level=${level} scope=${scope}${opts.appId ? ` app_id=${opts.appId}` : ""} msg="${msg}"${extra}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (s) => createLogger(opts, `${scope}.${s}`),
  };
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "string") return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export const silentLogger: Logger = createLogger({ level: "error", json: false, write: () => {} });
