// A binary min-heap of items ordered by a numeric time; ties keep insertion order.

interface Slot<T> {
  at: number;
  seq: number;
  item: T;
}

export class TimeHeap<T> {
  private slots: Slot<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.slots.length;
  }

  push(at: number, item: T): void {
    this.slots.push({ at, seq: this.seq++, item });
    this.up(this.slots.length - 1);
  }

  peek(): { at: number; item: T } | undefined {
    return this.slots[0];
  }

  pop(): T | undefined {
    const top = this.slots[0];
    const last = this.slots.pop();
    if (top && last && top !== last) {
      this.slots[0] = last;
      this.down(0);
    }
    return top?.item;
  }

  /** Keeps only the items `keep` accepts, re-heapifying once (O(n)). */
  filter(keep: (item: T) => boolean): void {
    this.slots = this.slots.filter((s) => keep(s.item));
    for (let i = (this.slots.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private less(a: Slot<T>, b: Slot<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const s = this.slots;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(s[i], s[parent])) break;
      [s[i], s[parent]] = [s[parent], s[i]];
      i = parent;
    }
  }

  private down(i: number): void {
    const s = this.slots;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < s.length && this.less(s[l], s[min])) min = l;
      if (r < s.length && this.less(s[r], s[min])) min = r;
      if (min === i) return;
      [s[i], s[min]] = [s[min], s[i]];
      i = min;
    }
  }
}
