import type { Logger } from '../logger.js';
import { ServingError } from '../errors.js';
import { PythonExitedError, PythonProcess, type Frame } from './process.js';

export interface PythonPoolOptions {
  bin: string;
  size: number;
  /** The frame that loads the model in a fresh process; its `ok` reply is the model info. */
  loadFrame: Record<string, unknown>;
  log: Logger;
}

/** The Python process running a request died under it (503 if it reaches the client; the runtime retries once). */
export class WorkerDiedError extends ServingError {
  constructor(reason: string) {
    super('unavailable', `the Python worker handling this request died (${reason}); it is being replaced, retry the request`);
  }
}

/**
 * A fixed set of Python processes, each holding the model. The event loop talks to them directly (the processes
 * are where the work runs, so no worker thread sits in between). A process that dies is replaced, with backoff if
 * replacements keep failing to load. Callers take an idle process with `acquire()` and hear of newly idle ones
 * through `onIdle`.
 */
export class PythonPool {
  private procs: PythonProcess[] = [];
  private stopping = false;
  private failures = 0;
  onIdle: () => void = () => {};

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
    if (this.stopping) {
      proc.kill();
      throw new Error('stopping');
    }
    this.procs.push(proc);
    void proc.exited.then((reason) => this.onExit(proc, reason));
    this.onIdle();
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
          if (this.stopping) return;
          const delay = Math.min(30_000, 1000 * 2 ** this.failures++);
          this.opts.log.error(`replacement python process failed to load the model, retrying in ${delay} ms: ${err.message}`);
          setTimeout(retry, delay).unref();
        },
      );
    };
    retry();
  }

  /** An idle live process, if there is one. */
  acquire(): PythonProcess | undefined {
    return this.stopping ? undefined : this.procs.find((p) => !p.busy && p.alive);
  }

  /** Runs one frame on a process from acquire(); a death becomes a 503 for this request. */
  run(proc: PythonProcess, header: Record<string, unknown>, blob?: Buffer): Promise<Frame> {
    const done = proc.call(header, blob);
    // Once settled the process may take the next request; tell the dispatcher after the caller has its answer.
    const idle = () => queueMicrotask(() => this.onIdle());
    done.then(idle, idle);
    return done.catch((err: Error) => {
      if (err instanceof PythonExitedError) {
        throw new WorkerDiedError(err.reason);
      }
      throw err;
    });
  }

  get size(): number {
    return this.procs.length;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exits = this.procs.map((p) => p.exited);
    for (const p of this.procs) p.kill();
    await Promise.all(exits);
  }
}
