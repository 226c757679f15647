import type { Piscina } from 'piscina';

/**
 * A worker pool whose threads start with the first task that needs them. Each thread loads the engine's modules and
 * the model (~0.3 s of CPU and ~10 MiB each for the native engine); requests small enough to run inline (most of
 * them: an iris logistic regression runs up to ~5,000-11,000 rows on the event loop) never need them, so a server that only sees those
 * never pays for them. The first large request waits for the threads to start.
 */
export class DeferredPool {
  private pool?: Piscina;

  constructor(private readonly create: () => Piscina) {}

  get(): Piscina {
    return (this.pool ??= this.create());
  }

  async destroy(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
