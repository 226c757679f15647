import type { TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ServingError, unavailable } from '../errors.js';

export interface PoolOptions {
  filename: string;
  workers: number;
  workerData: unknown;
  /** Requests allowed to wait for a worker; beyond it callers get 503 at once rather than unbounded memory. */
  maxQueue: number;
}

/** A fixed-size piscina pool: workers hold loaded models, so they are never reaped for idleness. */
export class WorkerPool<Task, Result> {
  readonly piscina: Piscina;

  constructor(opts: PoolOptions) {
    this.piscina = new Piscina({
      filename: opts.filename,
      minThreads: opts.workers,
      maxThreads: opts.workers,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      maxQueue: opts.maxQueue,
      concurrentTasksPerWorker: 1,
      workerData: opts.workerData,
    });
    // A worker that dies is replaced by piscina; its in-flight task is rejected and mapped below.
    this.piscina.on('error', () => {});
  }

  async run(task: Task, transferList?: TransferListItem[]): Promise<Result> {
    try {
      return (await this.piscina.run(task, { transferList })) as Result;
    } catch (err) {
      if (err instanceof ServingError) throw err;
      const msg = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(msg)) throw unavailable(`server busy: ${this.piscina.queueSize} requests already queued`);
      throw unavailable(`the worker handling this request stopped (${msg}); it is being replaced, retry the request`);
    }
  }

  get size(): number {
    return this.piscina.threads.length;
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
