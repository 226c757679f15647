import { createLogger, type Logger } from '../logger.js';
import { ServingError } from '../errors.js';
import { PythonExitedError, PythonProcess, type Frame } from './process.js';

/** What a process needs to load one model: the loader file, the model's path, the loader's options. */
export interface ModelLoad {
  loader: string;
  path: string;
  options: unknown;
}

/** The Python process running a request died under it (503 if it reaches the client; the runtime retries once). */
export class WorkerDiedError extends ServingError {
  constructor(reason: string) {
    super('unavailable', `the Python worker handling this request died (${reason}); it is being replaced, retry the request`);
  }
}

/** A Python load failed: the loader's own message (and trace). */
class LoadError extends Error {}

interface Control {
  header: Record<string, unknown>;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/** One process of the pool, the models it holds, and the loads/unloads waiting for it to be free. */
class Worker {
  readonly models = new Set<string>();
  readonly control: Control[] = [];
  constructor(readonly proc: PythonProcess) {}
}

/**
 * The server's Python processes, shared by every model on the Python engine (one pool per interpreter): each process
 * holds every model, by id, so one more model costs its own objects in each process, not one more interpreter with
 * numpy and scikit-learn imported. Loads and unloads go to every process between requests; a process that dies is
 * replaced and the replacement loads every model again before it takes their requests. The event loop talks to the
 * processes directly (they are where the work runs, so no worker thread sits in between). Runtimes take an idle
 * process that holds their model with `acquire(id)` and hear of newly idle ones through `addListener`.
 */
export class PythonPool {
  private workers: Worker[] = [];
  /** Every model the pool serves (or is loading), by id: what a replacement process loads. */
  private readonly models = new Map<string, ModelLoad>();
  private readonly listeners: Array<() => void> = [];
  private stopping = false;
  private deaths = 0;
  private turn = 0;

  constructor(
    readonly bin: string,
    private size: number,
    private readonly log: Logger,
    private readonly onEmpty: () => void,
  ) {}

  /** Grows the pool to `n` processes (the largest `workers` any model asked for). */
  ensureSize(n: number): void {
    this.size = Math.max(this.size, n);
    while (this.workers.length < this.size) this.spawn();
  }

  get processes(): number {
    return this.workers.length;
  }

  private spawn(replacement = false): Worker {
    const w = new Worker(new PythonProcess(this.bin, process.env));
    this.workers.push(w);
    void w.proc.exited.then((reason) => this.onExit(w, reason));
    // A new process (at start or replacing a dead one) loads every model first; each becomes servable there once
    // its load is done.
    const loads = [...this.models].map(([id, load]) =>
      this.loadOn(w, id, load).catch((err: Error) => {
        this.log.error(`python process ${w.proc.pid}: model ${id} did not load again: ${err.message}`);
      }),
    );
    if (replacement) {
      void Promise.all(loads).then(() => {
        if (w.proc.alive) this.log.info(`replacement python process loaded the models (${w.models.size}); ${this.workers.length}/${this.size} up`);
      });
    }
    return w;
  }

  private onExit(w: Worker, reason: string): void {
    this.workers = this.workers.filter((x) => x !== w);
    for (const c of w.control.splice(0)) c.reject(new PythonExitedError(w.proc.pid, reason));
    if (this.stopping) return;
    this.log.error(`python process ${w.proc.pid} exited (${reason}); starting a replacement`);
    // A process that keeps dying at load (a broken install) is replaced with backoff; a served request resets it.
    const delay = this.deaths++ < this.size ? 0 : Math.min(30_000, 500 * 2 ** (this.deaths - this.size));
    const replace = () => {
      if (!this.stopping && this.workers.length < this.size) this.spawn(true);
    };
    if (delay) setTimeout(replace, delay).unref();
    else setImmediate(replace);
  }

  /** Loads a model in every process; resolves with its info (the loader's `info()`) once every process holds it. */
  async load(id: string, load: ModelLoad): Promise<Record<string, unknown>> {
    this.models.set(id, load);
    const settled = await Promise.allSettled(this.workers.map((w) => this.loadOn(w, id, load)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const ok = settled.find((s): s is PromiseFulfilledResult<Record<string, unknown>> => s.status === 'fulfilled');
    if (failed || !ok) {
      await this.unload(id);
      const err = failed?.reason as Error | undefined;
      throw new Error(err instanceof LoadError ? err.message : `python process failed while loading the model: ${err?.message ?? 'no process'}`);
    }
    return ok.value;
  }

  private async loadOn(w: Worker, id: string, load: ModelLoad): Promise<Record<string, unknown>> {
    // A process that dies here fails this load (its replacement loads the model again, unless the model's first
    // load is what failed: then load() drops it).
    const reply = await this.control(w, { op: 'load', model: id, ...load });
    if (reply.header.error) {
      const e = reply.header.error as { message: string; type?: string; trace?: string };
      throw new LoadError(`${e.type ?? 'Error'}: ${e.message}${e.trace ? `\n${e.trace}` : ''}`);
    }
    if (this.models.get(id) !== load) {
      // Unloaded while it loaded here: free it again.
      void this.control(w, { op: 'unload', model: id }).catch(() => {});
      throw new Error('unloaded while loading');
    }
    w.models.add(id);
    this.notify();
    return reply.header.ok as Record<string, unknown>;
  }

  /** Frees a model in every process (they take no more of its requests from now on); the last model stops the pool. */
  async unload(id: string): Promise<void> {
    this.models.delete(id);
    const holding = this.workers.filter((w) => w.models.delete(id));
    await Promise.allSettled(holding.map((w) => this.control(w, { op: 'unload', model: id })));
    if (!this.models.size && !this.stopping) await this.stop();
  }

  /** Runs a load/unload on this process as soon as it is free (requests wait meanwhile). */
  private control(w: Worker, header: Record<string, unknown>): Promise<Frame> {
    if (!w.proc.alive) return Promise.reject(new PythonExitedError(w.proc.pid, 'not running'));
    return new Promise((resolve, reject) => {
      w.control.push({ header, resolve, reject });
      this.runControl(w);
    });
  }

  private runControl(w: Worker): void {
    if (w.proc.busy || !w.control.length) return;
    const c = w.control.shift()!;
    w.proc.call(c.header).then(
      (f) => {
        c.resolve(f);
        this.settled(w);
      },
      (e: Error) => {
        c.reject(e);
        this.settled(w);
      },
    );
  }

  /** After a call on `w`: its pending loads/unloads first, then the runtimes hear it is free. */
  private settled(w: Worker): void {
    queueMicrotask(() => {
      if (w.control.length) this.runControl(w);
      else this.notify();
    });
  }

  /** Runtimes waiting for a process: called in turn, starting one further each time, so no model starves another. */
  private notify(): void {
    const n = this.listeners.length;
    if (!n) return;
    const start = this.turn++ % n;
    for (let i = 0; i < n; i++) this.listeners[(start + i) % n]?.();
  }

  addListener(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** An idle live process that holds model `id`, if there is one. */
  acquire(id: string): PythonProcess | undefined {
    if (this.stopping) return undefined;
    return this.workers.find((w) => !w.proc.busy && w.proc.alive && !w.control.length && w.models.has(id))?.proc;
  }

  /** Runs one frame on a process from acquire(); a death becomes a 503 for this request. */
  run(proc: PythonProcess, header: Record<string, unknown>, blob?: Buffer): Promise<Frame> {
    const w = this.workers.find((x) => x.proc === proc);
    const done = proc.call(header, blob);
    done.then(
      () => {
        this.deaths = 0;
        if (w) this.settled(w);
      },
      () => {
        if (w) this.settled(w);
      },
    );
    return done.catch((err: Error) => {
      if (err instanceof PythonExitedError) throw new WorkerDiedError(err.reason);
      throw err;
    });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.onEmpty();
    const exits = this.workers.map((w) => w.proc.exited);
    for (const w of this.workers) w.proc.kill();
    await Promise.all(exits);
  }
}

/** The server's pools, one per interpreter; a pool stops (and leaves this map) when its last model unloads. */
const pools = new Map<string, PythonPool>();

/** The shared pool for `bin`, with at least `workers` processes. */
export function sharedPythonPool(bin: string, workers: number): PythonPool {
  let pool = pools.get(bin);
  if (!pool) {
    const created: PythonPool = new PythonPool(bin, 0, createLogger('python'), () => {
      if (pools.get(bin) === created) pools.delete(bin);
    });
    pools.set(bin, created);
    pool = created;
  }
  pool.ensureSize(workers);
  return pool;
}
