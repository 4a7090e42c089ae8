// lock.sqlite shared by three processes (three sidecars on one machine, one file): every lock is taken exactly once.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("three processes racing for the same locks in one SQLite file: each lock has exactly one holder", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rapr-lock-procs-"));
  const worker = join(import.meta.dir, "../fixtures/lock-sqlite-worker.ts");
  const count = 200;
  const procs = Array.from({ length: 3 }, () => Bun.spawn([process.execPath, worker, join(dir, "locks.db"), String(count)], { stdout: "pipe", stderr: "inherit" }));
  try {
    const outputs = await Promise.all(procs.map(async (p) => {
      const text = await new Response(p.stdout).text();
      expect(await p.exited).toBe(0);
      return JSON.parse(text) as string[];
    }));
    const taken = outputs.flat().sort();
    expect(taken.length).toBe(count);
    expect(new Set(taken).size).toBe(count);
  } finally {
    for (const p of procs) p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
