// The LockStore conformance suite: every lock plugin, built-in or loaded with --plugins-path, runs it. "Three
// sidecars" are three component instances on the same backend: each has its own connections. Locks declare no features.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LockRequestError, UNLOCK_STATUS_CODES, type LockStore } from "../components/contracts/lock.js";
import { eventually, type SuiteOptions } from "./harness.js";

/** A lock backend: `open()` makes another instance on it (another sidecar); `cleanup()` removes what the run left. */
export interface LockSubject {
  open(): Promise<LockStore>;
  cleanup?(): Promise<void>;
}

/** Registers the suite for one lock plugin; `factory` prepares a fresh backend for the run. */
export function describeLockConformance(name: string, factory: () => Promise<LockSubject>, opts: SuiteOptions = {}): void {
  (opts.skip ? describe.skip : describe)(`LockStore contract: ${name}`, () => {
    let subject: LockSubject;
    /** Three instances on one backend; every test's resource ids are its own. */
    let sidecars: LockStore[] = [];
    let a: LockStore;
    let b: LockStore;
    const run = Math.random().toString(36).slice(2, 8);
    let n = 0;
    const resource = () => `conf-lock-${run}-${++n}`;

    beforeAll(async () => {
      subject = await factory();
      sidecars = [await subject.open(), await subject.open(), await subject.open()];
      [a, b] = sidecars;
    });
    afterAll(async () => {
      await Promise.all(sidecars.map((s) => s.close()));
      await subject?.cleanup?.();
    });

    test("a free lock is taken; while held nobody takes it, its holder included, on any instance", async () => {
      const r = resource();
      expect(await a.tryLock({ resourceId: r, lockOwner: "one", expiryInSeconds: 60 })).toBe(true);
      expect(await a.tryLock({ resourceId: r, lockOwner: "one", expiryInSeconds: 60 })).toBe(false);
      expect(await a.tryLock({ resourceId: r, lockOwner: "two", expiryInSeconds: 60 })).toBe(false);
      expect(await b.tryLock({ resourceId: r, lockOwner: "two", expiryInSeconds: 60 })).toBe(false);
    });

    test("locks on different resources are independent", async () => {
      const [r1, r2] = [resource(), resource()];
      expect(await a.tryLock({ resourceId: r1, lockOwner: "one", expiryInSeconds: 60 })).toBe(true);
      expect(await b.tryLock({ resourceId: r2, lockOwner: "two", expiryInSeconds: 60 })).toBe(true);
    });

    test("unlock answers SUCCESS to the holder, LOCK_BELONGS_TO_OTHERS to anyone else, LOCK_DOES_NOT_EXIST for a free lock", async () => {
      const r = resource();
      expect(await a.unlock({ resourceId: r, lockOwner: "one" })).toBe("LOCK_DOES_NOT_EXIST");
      expect(await a.tryLock({ resourceId: r, lockOwner: "one", expiryInSeconds: 60 })).toBe(true);
      expect(await b.unlock({ resourceId: r, lockOwner: "two" })).toBe("LOCK_BELONGS_TO_OTHERS");
      expect(await b.tryLock({ resourceId: r, lockOwner: "two", expiryInSeconds: 60 })).toBe(false);
      expect(await b.unlock({ resourceId: r, lockOwner: "one" })).toBe("SUCCESS");
      expect(await a.unlock({ resourceId: r, lockOwner: "one" })).toBe("LOCK_DOES_NOT_EXIST");
      expect(await b.tryLock({ resourceId: r, lockOwner: "two", expiryInSeconds: 60 })).toBe(true);
    });

    test("the unlock statuses carry Dapr's numbers; a backend failure is an error (the block's INTERNAL_ERROR), never a status it did not see", async () => {
      expect(UNLOCK_STATUS_CODES).toEqual({ SUCCESS: 0, LOCK_DOES_NOT_EXIST: 1, LOCK_BELONGS_TO_OTHERS: 2, INTERNAL_ERROR: 3 });
      const gone = await subject.open();
      await gone.close();
      const r = resource();
      await expect(gone.tryLock({ resourceId: r, lockOwner: "x", expiryInSeconds: 5 })).rejects.toThrow();
      await expect(gone.unlock({ resourceId: r, lockOwner: "x" })).rejects.toThrow();
    });

    test("resource ids and owners are opaque strings: unicode, separators, long", async () => {
      const r = `${resource()}||ключ 🔑/${"x".repeat(300)}`;
      const owner = `владелец-🔒-${"o".repeat(200)}`;
      expect(await a.tryLock({ resourceId: r, lockOwner: owner, expiryInSeconds: 60 })).toBe(true);
      expect(await b.unlock({ resourceId: r, lockOwner: `${owner}x` })).toBe("LOCK_BELONGS_TO_OTHERS");
      expect(await b.unlock({ resourceId: r, lockOwner: owner })).toBe("SUCCESS");
    });

    test("an expired lock is free again, and its former holder cannot unlock it", async () => {
      const r = resource();
      expect(await a.tryLock({ resourceId: r, lockOwner: "one", expiryInSeconds: 1 })).toBe(true);
      await eventually(() => b.tryLock({ resourceId: r, lockOwner: "two", expiryInSeconds: 60 }), "the expired lock to be free");
      expect(await a.unlock({ resourceId: r, lockOwner: "one" })).toBe("LOCK_BELONGS_TO_OTHERS");
      expect(await b.unlock({ resourceId: r, lockOwner: "two" })).toBe("SUCCESS");
    });

    test("an expired lock nobody took again no longer exists", async () => {
      const r = resource();
      expect(await a.tryLock({ resourceId: r, lockOwner: "one", expiryInSeconds: 1 })).toBe(true);
      await eventually(async () => (await b.unlock({ resourceId: r, lockOwner: "two" })) === "LOCK_DOES_NOT_EXIST", "the lock to expire");
      expect(await a.unlock({ resourceId: r, lockOwner: "one" })).toBe("LOCK_DOES_NOT_EXIST");
    });

    test("a holder that goes away without unlocking (a crashed sidecar) frees the lock at its expiry", async () => {
      const r = resource();
      const crashing = await subject.open();
      expect(await crashing.tryLock({ resourceId: r, lockOwner: "crashed", expiryInSeconds: 1 })).toBe(true);
      await crashing.close();
      expect(await b.unlock({ resourceId: r, lockOwner: "survivor" })).not.toBe("SUCCESS");
      await eventually(() => b.tryLock({ resourceId: r, lockOwner: "survivor", expiryInSeconds: 60 }), "the crashed holder's lock to expire");
    });

    test("under contention from many clients on three instances exactly one takes a free lock", async () => {
      for (let round = 0; round < 5; round++) {
        const r = resource();
        const tries = Array.from({ length: 30 }, (_, i) => sidecars[i % 3].tryLock({ resourceId: r, lockOwner: `owner-${i}`, expiryInSeconds: 60 }));
        const won = (await Promise.all(tries)).filter(Boolean);
        expect(won.length).toBe(1);
      }
    });

    test("workers on three instances taking and releasing one lock in a loop: never two holders at once", async () => {
      const r = resource();
      let holders = 0;
      let overlaps = 0;
      let acquired = 0;
      const deadline = Date.now() + 15_000;
      const worker = async (w: number) => {
        const store = sidecars[w % 3];
        for (let i = 0; i < 200 && acquired < 30 && Date.now() < deadline; i++) {
          if (!(await store.tryLock({ resourceId: r, lockOwner: `worker-${w}`, expiryInSeconds: 60 }))) {
            await Bun.sleep(2);
            continue;
          }
          if (++holders > 1) overlaps++;
          acquired++;
          await Bun.sleep(1);
          holders--;
          expect(await store.unlock({ resourceId: r, lockOwner: `worker-${w}` })).toBe("SUCCESS");
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
      expect(overlaps).toBe(0);
      expect(acquired).toBeGreaterThan(0);
    });

    test("bad input is refused with LockRequestError and takes nothing: empty resource id or owner, expiry not a positive whole number", async () => {
      const r = resource();
      const bad = [
        { resourceId: "", lockOwner: "o", expiryInSeconds: 10 },
        { resourceId: r, lockOwner: "", expiryInSeconds: 10 },
        { resourceId: r, lockOwner: "o", expiryInSeconds: 0 },
        { resourceId: r, lockOwner: "o", expiryInSeconds: -1 },
        { resourceId: r, lockOwner: "o", expiryInSeconds: 1.5 },
        { resourceId: r, lockOwner: "o", expiryInSeconds: Number.NaN },
        { resourceId: r, lockOwner: "o", expiryInSeconds: 2 ** 31 },
      ];
      for (const req of bad) await expect(a.tryLock(req)).rejects.toBeInstanceOf(LockRequestError);
      await expect(a.unlock({ resourceId: "", lockOwner: "o" })).rejects.toBeInstanceOf(LockRequestError);
      await expect(a.unlock({ resourceId: r, lockOwner: "" })).rejects.toBeInstanceOf(LockRequestError);
      expect(await b.tryLock({ resourceId: r, lockOwner: "o2", expiryInSeconds: 60 })).toBe(true);
    });
  });
}
