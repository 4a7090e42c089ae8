/** A point in time on the performance.now() clock after which a call into the app is given up. */
export type Deadline = number;

export class DeadlineExceeded extends Error {
  override readonly name = "TimeoutError";
}

export function deadlineIn(ms: number): Deadline {
  return performance.now() + ms;
}

/** Milliseconds left before `deadline`; throws DeadlineExceeded when there are none (the wait for a slot used them). */
export function msLeft(deadline: Deadline, what: string): number {
  const left = Math.ceil(deadline - performance.now());
  if (left <= 0) throw new DeadlineExceeded(`${what}: deadline passed before the call could start`);
  return left;
}
