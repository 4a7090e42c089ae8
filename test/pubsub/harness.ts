// Shared pieces of the pub/sub integration tests: resource folders, the subscriber app fixture, polling its log.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";

export const FIXTURE_APP = join(import.meta.dir, "..", "fixtures", "pubsub-app.ts");
export const BUN = process.execPath;

/** Writes YAML documents into a fresh folder for --resources-path. */
export function resourcesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-pubsub-res-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export interface Received {
  path: string;
  headers: Record<string, string>;
  event: any;
}

export async function received(appPort: number): Promise<Received[]> {
  return (await fetch(`http://127.0.0.1:${appPort}/received`)).json() as Promise<Received[]>;
}

/** Polls the app's log until pred holds over it; returns the log. */
export async function until(appPort: number, pred: (r: Received[]) => boolean, what: string, timeoutMs = 10_000): Promise<Received[]> {
  let last: Received[] = [];
  await waitFor(async () => pred((last = await received(appPort))), what, timeoutMs);
  return last;
}

export async function appPort(): Promise<number> {
  return freePort();
}

export const uniq = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
