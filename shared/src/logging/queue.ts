import type { Logger } from '../logger.js';

/** A FIFO with O(1) push and shift (Array.shift is O(n), and the queue holds up to 10000 events). */
export class Deque<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** A warning repeated at most once per period, with the count of occurrences since the last one. */
export class RateLimitedLog {
  private last = -Infinity;
  private pending = 0;

  constructor(
    private readonly log: Logger,
    private readonly periodMs: number,
  ) {}

  warn(message: (count: number) => string, n: number): void {
    this.pending += n;
    const now = Date.now();
    if (now - this.last < this.periodMs) return;
    this.last = now;
    this.log.warn(message(this.pending));
    this.pending = 0;
  }
}
