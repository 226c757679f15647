/** Latency percentiles and the progress bar of `modelfleet test`. */

/** Nearest-rank percentile of sorted values (p in 0..100); 0 for no values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!sorted.length) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** A one-line bar redrawn in place (\r) at most every 100 ms; for a TTY, or when asked with --progress. */
export class Progress {
  private last = 0;
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly total: number,
    private readonly timed: boolean,
  ) {}

  update(done: number, requests: number, errors: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const frac = Math.min(1, done / this.total);
    const width = 30;
    const filled = Math.round(frac * width);
    const what = this.timed ? `${(done / 1000).toFixed(1)}/${(this.total / 1000).toFixed(0)} s` : `${done}/${this.total}`;
    this.stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${what}  requests ${requests}  errors ${errors}`);
  }

  done(): void {
    this.stream.write('\n');
  }
}
