// Sends a child's stdout and stderr to the console, a file, or both (the dapr CLI's log destinations), each line
// prefixed when asked (`rapr run -f` writes "== APP - <id> == " before each line of an app, as the dapr CLI does).
import { closeSync, openSync, writeSync } from "node:fs";
import type { Subprocess } from "bun";
import type { AppOutput } from "../runtime/config.js";

export interface OutputSink {
  stdio: "inherit" | "pipe" | number;
  /** Copies piped output to its destinations; resolves when both streams end. */
  pump(proc: Subprocess): Promise<void>;
  close(): void;
}

const NEWLINE = 0x0a;
const MAX_LINE = 64 * 1024;

export function outputSink(output: AppOutput | undefined): OutputSink {
  const prefix = output?.linePrefix ? new TextEncoder().encode(output.linePrefix) : undefined;
  if (!output || (output.destination === "console" && !prefix)) return { stdio: "inherit", pump: async () => {}, close() {} };
  const fd = output.destination === "console" ? undefined : openSync(output.file, "a");
  const close = () => fd !== undefined && closeSync(fd);
  if (output.destination === "file" && !prefix) return { stdio: fd!, pump: async () => {}, close };
  const toConsole = output.destination !== "file";
  const copy = async (stream: ReadableStream<Uint8Array> | number | undefined, console: NodeJS.WriteStream) => {
    if (!(stream instanceof ReadableStream)) return;
    const write = (bytes: Uint8Array) => {
      if (fd !== undefined) writeSync(fd, bytes);
      if (!toConsole) return;
      if (output.consoleFd !== undefined) writeSync(output.consoleFd, bytes);
      else console.write(bytes);
    };
    const lines = prefix ? prefixLines(prefix, write) : { write, end() {} };
    for await (const chunk of stream) lines.write(chunk);
    lines.end();
  };
  return { stdio: "pipe", pump: (proc) => Promise.all([copy(proc.stdout, process.stdout), copy(proc.stderr, process.stderr)]).then(() => {}), close };
}

/** Writes whole lines, each after `prefix`; a last line without a newline is written (with one) at the end. */
function prefixLines(prefix: Uint8Array, write: (bytes: Uint8Array) => void): { write(chunk: Uint8Array): void; end(): void } {
  let pending = new Uint8Array(0);
  return {
    write(chunk) {
      const bytes = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      for (let nl = bytes.indexOf(NEWLINE); nl !== -1; nl = bytes.indexOf(NEWLINE, start)) {
        write(Buffer.concat([prefix, bytes.subarray(start, nl + 1)]));
        start = nl + 1;
      }
      pending = bytes.slice(start);
      if (pending.length > MAX_LINE) this.end(); // a line this long is written in pieces rather than held
    },
    end() {
      if (pending.length) write(Buffer.concat([prefix, pending, Buffer.of(NEWLINE)]));
      pending = new Uint8Array(0);
    },
  };
}
