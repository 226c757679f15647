/**
 * A repository on several HTTP processes (node:cluster, sharing the ports): a load or unload that reaches one
 * process goes to the primary, which runs it in every process and answers the one that asked once all are done, so
 * the index answers the same from any process. The primary also remembers what the API changed since start (models
 * unloaded, models loaded), and hands it to each process as it starts, so a replacement for a process that died
 * serves what the others serve, not what the folder held at start.
 */
import cluster, { type Worker } from 'node:cluster';
import { ServingError, type ErrorKind } from '../errors.js';

export type RepositoryOp = 'load' | 'unload';
/** What the API changed since start, by model name. */
export type RepositoryState = Record<string, RepositoryOp>;

type Message =
  | { modelfleet: 'repo-hello' }
  | { modelfleet: 'repo-state'; state: RepositoryState }
  | { modelfleet: 'repo-op'; id: number; op: RepositoryOp; name: string }
  | { modelfleet: 'repo-do'; id: number; op: RepositoryOp; name: string }
  | { modelfleet: 'repo-done'; id: number; error?: { kind: ErrorKind; message: string } }
  | { modelfleet: 'repo-result'; id: number; error?: { kind: ErrorKind; message: string } };

const isMessage = (m: unknown): m is Message => typeof (m as { modelfleet?: unknown })?.modelfleet === 'string' && String((m as { modelfleet: string }).modelfleet).startsWith('repo-');

/** In the primary: relays every load/unload to all processes that said hello, and keeps the state for newcomers. */
export function relayRepositoryOps(): void {
  const state: RepositoryState = {};
  const joined = new Set<number>();
  let nextId = 0;
  /** Operations in flight: who asked (and under which id), who has still to answer, the first error. */
  const ops = new Map<number, { origin: Worker; originId: number; waiting: Set<number>; error?: { kind: ErrorKind; message: string } }>();
  const finish = (id: number) => {
    const op = ops.get(id)!;
    if (op.waiting.size) return;
    ops.delete(id);
    if (!op.origin.isDead()) op.origin.send({ modelfleet: 'repo-result', id: op.originId, ...(op.error ? { error: op.error } : {}) } satisfies Message);
  };
  cluster.on('message', (worker, m: unknown) => {
    if (!isMessage(m)) return;
    if (m.modelfleet === 'repo-hello') {
      joined.add(worker.id);
      worker.send({ modelfleet: 'repo-state', state } satisfies Message);
    } else if (m.modelfleet === 'repo-op') {
      // Remembered before it runs: a process that starts meanwhile gets it from the state (and maybe the relay too:
      // loads and unloads are idempotent).
      state[m.name] = m.op;
      const id = ++nextId;
      const targets = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead() && joined.has(w.id));
      ops.set(id, { origin: worker, originId: m.id, waiting: new Set(targets.map((w) => w.id)) });
      for (const w of targets) w.send({ modelfleet: 'repo-do', id, op: m.op, name: m.name } satisfies Message);
      finish(id);
    } else if (m.modelfleet === 'repo-done') {
      const op = ops.get(m.id);
      if (!op) return;
      op.waiting.delete(worker.id);
      // The asker's own answer comes first when it failed there; any process's error otherwise.
      if (m.error && (!op.error || worker === op.origin)) op.error = m.error;
      finish(m.id);
    }
  });
  cluster.on('exit', (worker) => {
    joined.delete(worker.id);
    for (const [id, op] of ops) if (op.waiting.delete(worker.id)) finish(id);
  });
}

/** What a server process needs from its repository to take part. */
export interface LocalRepository {
  applyLoad(name: string): Promise<void>;
  applyUnload(name: string): Promise<void>;
}

/**
 * In a server process: says hello and resolves with the state to start from; `run` then sends an API load/unload
 * to every process (through the primary), and `serve` applies the ones the primary relays.
 */
export async function joinCluster(): Promise<{ state: RepositoryState; run: (op: RepositoryOp, name: string) => Promise<void>; serve: (repo: LocalRepository) => void }> {
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let local: LocalRepository | undefined;
  /** Relayed before this process is serving: applied once it is (after its start-up load). */
  const early: Array<Extract<Message, { modelfleet: 'repo-do' }>> = [];
  const apply = (m: Extract<Message, { modelfleet: 'repo-do' }>) => {
    const done = m.op === 'load' ? local!.applyLoad(m.name) : local!.applyUnload(m.name);
    done.then(
      () => process.send?.({ modelfleet: 'repo-done', id: m.id } satisfies Message),
      (err: Error) => {
        const kind: ErrorKind = err instanceof ServingError ? err.kind : 'internal';
        process.send?.({ modelfleet: 'repo-done', id: m.id, error: { kind, message: err.message } } satisfies Message);
      },
    );
  };
  const state = await new Promise<RepositoryState>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.modelfleet === 'repo-state') resolve(m.state);
      else if (m.modelfleet === 'repo-do') {
        if (local) apply(m);
        else early.push(m);
      } else if (m.modelfleet === 'repo-result') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error) p?.reject(new ServingError(m.error.kind, m.error.message));
        else p?.resolve();
      }
    });
    process.send?.({ modelfleet: 'repo-hello' } satisfies Message);
  });
  return {
    state,
    run: (op, name) =>
      new Promise<void>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        process.send?.({ modelfleet: 'repo-op', id, op, name } satisfies Message);
      }),
    serve: (repo) => {
      local = repo;
      for (const m of early.splice(0)) apply(m);
    },
  };
}
