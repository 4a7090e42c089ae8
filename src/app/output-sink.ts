// Sends a child's stdout and stderr to the console, a file, or both (the dapr CLI's log destinations).
import { closeSync, openSync, writeSync } from "node:fs";
import type { Subprocess } from "bun";
import type { AppOutput } from "../runtime/config.js";

export interface OutputSink {
  stdio: "inherit" | "pipe" | number;
  /** Copies piped output to its destinations; resolves when both streams end. */
  pump(proc: Subprocess): Promise<void>;
  close(): void;
}

export function outputSink(output: AppOutput | undefined): OutputSink {
  if (!output || output.destination === "console") return { stdio: "inherit", pump: async () => {}, close() {} };
  const fd = openSync(output.file, "a");
  const close = () => closeSync(fd);
  if (output.destination === "file") return { stdio: fd, pump: async () => {}, close };
  const consoleFd = output.consoleFd;
  const copy = async (stream: ReadableStream<Uint8Array> | number | undefined, console: NodeJS.WriteStream) => {
    if (!(stream instanceof ReadableStream)) return;
    for await (const chunk of stream) {
      writeSync(fd, chunk);
      if (consoleFd !== undefined) writeSync(consoleFd, chunk);
      else console.write(chunk);
    }
  };
  return { stdio: "pipe", pump: (proc) => Promise.all([copy(proc.stdout, process.stdout), copy(proc.stderr, process.stderr)]).then(() => {}), close };
}
