/** Byte counter that logs now and then for large models, and a summary with throughput at the end. */
export class Progress {
  private done = 0;
  private lastLog = 0;
  private readonly started = Date.now();

  constructor(
    private total: number,
    private readonly files: number,
    private readonly log: ((message: string) => void) | undefined,
    /** Below this, one summary line is enough. */
    private readonly threshold = 32 * 1024 * 1024,
    private readonly intervalMs = 2_000,
  ) {
    this.lastLog = this.started;
  }

  add(bytes: number): void {
    this.done += bytes;
    if (!this.log || this.total < this.threshold) return;
    const now = Date.now();
    if (now - this.lastLog < this.intervalMs) return;
    this.lastLog = now;
    const pct = this.total ? ((100 * this.done) / this.total).toFixed(0) : '?';
    this.log(`  ${mib(this.done)} / ${mib(this.total)} (${pct}%), ${rate(this.done, now - this.started)}`);
  }

  /** A size learnt only when the download starts (HTTP). */
  grow(bytes: number): void {
    this.total += bytes;
  }

  /** Undoes a failed try's bytes so the count stays true across retries. */
  remove(bytes: number): void {
    this.done -= bytes;
  }

  summary(): string {
    const ms = Date.now() - this.started;
    return `${this.files} file${this.files === 1 ? '' : 's'}, ${mib(this.done)} in ${(ms / 1000).toFixed(1)} s (${rate(this.done, ms)})`;
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function rate(bytes: number, ms: number): string {
  return `${(bytes / 1024 / 1024 / Math.max(ms / 1000, 0.001)).toFixed(1)} MiB/s`;
}
