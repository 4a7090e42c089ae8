/**
 * Lifeguard's dynamic suspicion timeout: it starts at `max` and falls towards `min` (logarithmically)
 * as independent members confirm the suspicion; `expected` confirmations bring it to `min`.
 */
export class Suspicion {
  private readonly confirmers = new Set<string>();

  constructor(
    readonly start: number,
    private readonly min: number,
    private readonly max: number,
    private readonly expected: number,
    from: string,
  ) {
    this.confirmers.add(from);
  }

  /** Returns true when `from` is a new confirmer (and the deadline moved). */
  confirm(from: string): boolean {
    if (this.confirmers.has(from) || this.confirmers.size > this.expected) return false;
    this.confirmers.add(from);
    return true;
  }

  deadline(): number {
    const c = this.confirmers.size - 1;
    if (this.expected <= 0) return this.start + this.min;
    const frac = Math.log(c + 1) / Math.log(this.expected + 1);
    const timeout = Math.max(this.min, this.max - (this.max - this.min) * frac);
    return this.start + timeout;
  }
}
