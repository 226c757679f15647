import type { Piscina } from 'piscina';

/** After load, how long a worker pool waits before starting its threads unless a task needs them sooner. */
const START_AFTER_MS = 1000;

/**
 * A worker pool whose threads start a moment after the model loads, or when the first task needs them, whichever
 * comes first. Each thread loads the engine's modules and the model (~0.3 s of CPU each for the native engine); on a
 * small machine, starting them at load competes with the start itself, and the first answers (small requests, run
 * inline) do not need them.
 */
export class DeferredPool {
  private pool?: Piscina;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly create: () => Piscina) {
    this.timer = setTimeout(() => this.get(), START_AFTER_MS);
    this.timer.unref();
  }

  get(): Piscina {
    clearTimeout(this.timer);
    return (this.pool ??= this.create());
  }

  async destroy(): Promise<void> {
    clearTimeout(this.timer);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
