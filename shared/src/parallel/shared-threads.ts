/**
 * The server's worker threads, one piscina pool per engine (worker file) shared by every model on that engine: one
 * more model costs its own arrays or session in the threads that run it, not one more set of threads (a V8 isolate
 * each). Tasks carry their model's id and what a thread needs to build it (shared memory, so passing it is cheap);
 * a thread builds each model the first time it runs it. Unloading a model tells every thread, over a
 * BroadcastChannel, to drop it; the last model's unload stops the threads. The threads start with the first task that
 * needs them: each loads the engine's modules (~0.3 s of CPU and ~10 MiB for the native engine), and requests small
 * enough to run inline (an iris logistic regression: up to ~5,000-11,000 rows) never need them.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';

/** What a thread hears on the engine's channel. */
export interface ThreadsNotice {
  unload: string;
}

/** The channels the engines' worker files listen on. */
export const NATIVE_CHANNEL = 'modelfleet:threads:native';
export const ONNX_CHANNEL = 'modelfleet:threads:onnx';

export class SharedThreads {
  private readonly users = new Set<string>();
  private readonly channel: BroadcastChannel;
  private stopped = false;
  private started?: Piscina;

  constructor(
    private readonly create: () => Piscina,
    channel: string,
    private readonly onEmpty: () => void,
  ) {
    this.channel = new BroadcastChannel(channel);
    this.channel.unref();
  }

  /** The pool; its threads start on the first call. */
  get pool(): Piscina {
    return (this.started ??= this.create());
  }

  add(id: string): void {
    this.users.add(id);
  }

  /** Drops the model in every thread; the last one stops the pool. */
  async remove(id: string): Promise<void> {
    if (!this.users.delete(id)) return;
    this.channel.postMessage({ unload: id } satisfies ThreadsNotice);
    if (this.users.size || this.stopped) return;
    this.stopped = true;
    this.onEmpty();
    this.channel.close();
    await this.started?.destroy();
  }
}

const pools = new Map<string, SharedThreads>();

/**
 * The shared pool of `filename` with `threads` threads, for model `id` (call `remove(id)` at unload); its threads
 * listen on the BroadcastChannel `channel`. Models asking for another number of threads get a pool of that size.
 */
export function sharedThreads(filename: string, channel: string, threads: number, maxQueue: number, id: string): SharedThreads {
  const key = `${filename}\u0000${threads}`;
  let shared = pools.get(key);
  if (!shared) {
    const created: SharedThreads = new SharedThreads(
      () => new Piscina({ filename, minThreads: threads, maxThreads: threads, idleTimeout: Number.MAX_SAFE_INTEGER, maxQueue }),
      channel,
      () => {
        if (pools.get(key) === created) pools.delete(key);
      },
    );
    pools.set(key, created);
    shared = created;
  }
  shared.add(id);
  return shared;
}
