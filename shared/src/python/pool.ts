import type { Logger } from '../logger.js';
import { unavailable } from '../errors.js';
import { PythonExitedError, PythonProcess, type Frame } from './process.js';

export interface PythonPoolOptions {
  bin: string;
  size: number;
  maxQueue: number;
  /** The frame that loads the model in a fresh process; its `ok` reply is the model info. */
  loadFrame: Record<string, unknown>;
  log: Logger;
}

interface Waiter {
  header: Record<string, unknown>;
  blob?: Buffer;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/**
 * A fixed set of Python processes, each holding the model. The event loop hands each request to an idle process
 * (the processes are where the work runs, so no worker thread sits in between); requests wait in a bounded FIFO
 * when all are busy. A process that dies is replaced, with backoff if replacements keep failing to load.
 */
export class PythonPool {
  private procs: PythonProcess[] = [];
  private readonly queue: Waiter[] = [];
  private stopping = false;
  private failures = 0;

  constructor(private readonly opts: PythonPoolOptions) {}

  /** Starts every process and loads the model in each; resolves with the model info once all have it. */
  async start(): Promise<Record<string, unknown>> {
    const infos = await Promise.all(Array.from({ length: this.opts.size }, () => this.spawnLoaded()));
    return infos[0];
  }

  private async spawnLoaded(): Promise<Record<string, unknown>> {
    const proc = new PythonProcess(this.opts.bin, process.env);
    const reply = await proc.call(this.opts.loadFrame).catch((err: Error) => {
      throw new Error(`python process failed while loading the model: ${err.message}`);
    });
    if (reply.header.error) {
      proc.kill();
      const e = reply.header.error as { message: string; type?: string; trace?: string };
      throw new Error(`${e.type ?? 'Error'}: ${e.message}${e.trace ? `\n${e.trace}` : ''}`);
    }
    this.procs.push(proc);
    void proc.exited.then((reason) => this.onExit(proc, reason));
    this.drainQueue();
    return reply.header.ok as Record<string, unknown>;
  }

  private onExit(proc: PythonProcess, reason: string): void {
    this.procs = this.procs.filter((p) => p !== proc);
    if (this.stopping) return;
    this.opts.log.error(`python process ${proc.pid} exited (${reason}); starting a replacement`);
    const retry = () => {
      if (this.stopping) return;
      this.spawnLoaded().then(
        () => {
          this.failures = 0;
          this.opts.log.info(`replacement python process loaded the model (${this.procs.length}/${this.opts.size} up)`);
        },
        (err: Error) => {
          const delay = Math.min(30_000, 1000 * 2 ** this.failures++);
          this.opts.log.error(`replacement python process failed to load the model, retrying in ${delay} ms: ${err.message}`);
          setTimeout(retry, delay).unref();
        },
      );
    };
    retry();
  }

  /** Runs one request on an idle process, waiting in the queue if none is. */
  call(header: Record<string, unknown>, blob?: Buffer): Promise<Frame> {
    const idle = this.procs.find((p) => !p.busy && p.alive);
    if (idle) return this.run(idle, header, blob);
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(unavailable(`server busy: ${this.queue.length} requests already waiting for a Python worker`));
    }
    return new Promise((resolve, reject) => this.queue.push({ header, blob, resolve, reject }));
  }

  private run(proc: PythonProcess, header: Record<string, unknown>, blob?: Buffer): Promise<Frame> {
    const done = proc.call(header, blob);
    // Whatever happens to this request, the process may take the next one.
    void done.then(
      () => this.drainQueue(),
      () => this.drainQueue(),
    );
    return done.catch((err: Error) => {
      if (err instanceof PythonExitedError) {
        throw unavailable(`the Python worker handling this request died (${err.reason}); it is being replaced, retry the request`);
      }
      throw err;
    });
  }

  private drainQueue(): void {
    while (this.queue.length) {
      const idle = this.procs.find((p) => !p.busy && p.alive);
      if (!idle) return;
      const w = this.queue.shift()!;
      this.run(idle, w.header, w.blob).then(w.resolve, w.reject);
    }
  }

  get size(): number {
    return this.procs.length;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.queue.splice(0)) w.reject(unavailable('server is shutting down'));
    const exits = this.procs.map((p) => p.exited);
    for (const p of this.procs) p.kill();
    await Promise.all(exits);
  }
}
