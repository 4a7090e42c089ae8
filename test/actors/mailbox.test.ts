import { describe, expect, test } from "bun:test";
import { ActorQueueFullError, ActorStackDepthError } from "../../src/blocks/actors/errors.js";
import { Mailbox, MailboxStoppedError, type Turn } from "../../src/blocks/actors/mailbox.js";
import { settle } from "../support/fake-clock.js";

const mailbox = (maxQueue = 100, reentrancy = { enabled: false, maxStackDepth: 32 }) => new Mailbox("t||1", { maxQueue, reentrancy });
const reentrant = (maxStackDepth = 32, maxQueue = 100) => mailbox(maxQueue, { enabled: true, maxStackDepth });

/** Enters and records when the turn starts (or fails). */
function track(p: Promise<Turn>) {
  const t = { turn: undefined as Turn | undefined, error: undefined as unknown, promise: p };
  p.then((turn) => (t.turn = turn), (err) => (t.error = err));
  return t;
}

describe("mailbox turns", () => {
  test("one call at a time, in arrival order", async () => {
    const mb = mailbox();
    const calls = [0, 1, 2, 3].map(() => track(mb.enter()));
    const order: number[] = [];
    for (let round = 0; round < 4; round++) {
      await settle();
      const running = calls.map((c, i) => (c.turn ? i : -1)).filter((i) => i >= 0 && !order.includes(i));
      expect(running.length).toBe(1);
      order.push(running[0]);
      calls[running[0]].turn!.release();
    }
    expect(order).toEqual([0, 1, 2, 3]);
    expect(mb.busy).toBe(false);
  });

  test("a full queue refuses with a typed error, and takes calls again once it moves", async () => {
    const mb = mailbox(2);
    const first = track(mb.enter());
    const waiting = [track(mb.enter()), track(mb.enter())];
    const refused = track(mb.enter());
    await settle();
    expect(refused.error).toBeInstanceOf(ActorQueueFullError);
    expect((refused.error as ActorQueueFullError).limit).toBe(2);
    expect(mb.queued).toBe(2);
    first.turn!.release();
    await settle();
    expect(waiting[0].turn).toBeDefined();
    const again = track(mb.enter());
    await settle();
    expect(again.error).toBeUndefined();
    expect(mb.queued).toBe(2);
  });

  test("releasing twice ends the turn once", async () => {
    const mb = mailbox();
    const a = track(mb.enter());
    const b = track(mb.enter());
    const c = track(mb.enter());
    await settle();
    a.turn!.release();
    a.turn!.release();
    await settle();
    expect(b.turn).toBeDefined();
    expect(c.turn).toBeUndefined();
  });

  test("without reentrancy a call carrying the running chain's id waits like any other", async () => {
    const mb = mailbox();
    const a = track(mb.enter("chain-1"));
    const b = track(mb.enter("chain-1"));
    await settle();
    expect(a.turn!.reentrancyId).toBeUndefined();
    expect(b.turn).toBeUndefined();
  });
});

describe("mailbox reentrancy (Dapr-Reentrancy-Id)", () => {
  test("a call of the running chain enters at once; another chain waits; a call without an id gets a fresh one", async () => {
    const mb = reentrant();
    const root = track(mb.enter());
    await settle();
    const id = root.turn!.reentrancyId!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const other = track(mb.enter("someone-else"));
    const nested = track(mb.enter(id));
    await settle();
    expect(nested.turn!.reentrancyId).toBe(id);
    expect(other.turn).toBeUndefined();
    nested.turn!.release();
    await settle();
    expect(other.turn).toBeUndefined();
    root.turn!.release();
    await settle();
    expect(other.turn!.reentrancyId).toBe("someone-else");
  });

  test("calls of a waiting chain join it and start together when it gets its turn", async () => {
    const mb = reentrant();
    const a = track(mb.enter("A"));
    const b1 = track(mb.enter("B"));
    const c = track(mb.enter("C"));
    const b2 = track(mb.enter("B"));
    await settle();
    expect(mb.queued).toBe(3);
    a.turn!.release();
    await settle();
    expect(b1.turn).toBeDefined();
    expect(b2.turn).toBeDefined();
    expect(c.turn).toBeUndefined();
    b1.turn!.release();
    await settle();
    expect(c.turn).toBeUndefined();
    b2.turn!.release();
    await settle();
    expect(c.turn).toBeDefined();
  });

  test("past maxStackDepth a chain's call fails with a typed error and leaves the chain as it was", async () => {
    const mb = reentrant(3);
    const turns = [track(mb.enter("A")), track(mb.enter("A")), track(mb.enter("A"))];
    const deep = track(mb.enter("A"));
    await settle();
    expect(turns.every((t) => t.turn)).toBe(true);
    expect(deep.error).toBeInstanceOf(ActorStackDepthError);
    turns[2].turn!.release();
    const again = track(mb.enter("A"));
    await settle();
    expect(again.turn).toBeDefined();
    for (const t of [turns[0], turns[1], again]) t.turn!.release();
    expect(mb.busy).toBe(false);
  });
});

describe("mailbox withdrawals and stop", () => {
  test("an aborted waiting call leaves the queue with the signal's reason; the others keep their order", async () => {
    const mb = mailbox();
    const a = track(mb.enter());
    const controller = new AbortController();
    const b = track(mb.enter(undefined, controller.signal));
    const c = track(mb.enter());
    await settle();
    controller.abort(new Error("caller gave up"));
    await settle();
    expect((b.error as Error).message).toBe("caller gave up");
    expect(mb.queued).toBe(1);
    a.turn!.release();
    await settle();
    expect(c.turn).toBeDefined();
    const late = track(mb.enter(undefined, AbortSignal.abort(new Error("already"))));
    await settle();
    expect((late.error as Error).message).toBe("already");
  });

  test("stop fails waiting calls and new chains, lets the running chain's calls in, and reports idle", async () => {
    const mb = reentrant();
    const running = track(mb.enter("A"));
    const waiting = track(mb.enter("B"));
    await settle();
    mb.stop();
    const nested = track(mb.enter("A"));
    const fresh = track(mb.enter("C"));
    let idle = false;
    mb.whenIdle().then(() => (idle = true));
    await settle();
    expect(waiting.error).toBeInstanceOf(MailboxStoppedError);
    expect(fresh.error).toBeInstanceOf(MailboxStoppedError);
    expect(nested.turn).toBeDefined();
    expect(mb.queued).toBe(0);
    nested.turn!.release();
    await settle();
    expect(idle).toBe(false);
    running.turn!.release();
    await settle();
    expect(idle).toBe(true);
  });
});
