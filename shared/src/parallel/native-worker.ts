/**
 * piscina worker for the native engine, shared by every native model of the server (parallel/shared-threads.ts):
 * rebuilds each model once, over the SharedArrayBuffers its first task carried (no copy per thread), and evaluates
 * batches off the event loop.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { collectSoon } from '../idle-gc.js';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { nativeFromTransferable } from '../native/transfer.js';
import { NativeInputError } from '../native/errors.js';
import type { NativeModel, NativeOutput, Transferable } from '../native/types.js';
import { NATIVE_CHANNEL, type ThreadsNotice } from './shared-threads.js';

export interface NativeTask {
  /** The model's id in the server, and how to build it (shared memory: cheap to pass with every task). */
  id: string;
  model: Transferable;
  X: Float64Array | Float32Array;
  nRows: number;
  output: string;
}

/** `us`: the model's own evaluation time in this thread (the runtime learns its per-row cost from it). */
export type NativeTaskResult = { ok: NativeOutput; us: number } | { inputError: string };

const models = new Map<string, NativeModel>();
const channel = new BroadcastChannel(NATIVE_CHANNEL);
channel.unref();
channel.onmessage = (e) => {
  models.delete(((e as { data: ThreadsNotice }).data).unload);
};

export default function run(task: NativeTask): NativeTaskResult {
  let model = models.get(task.id);
  if (!model) models.set(task.id, (model = nativeFromTransferable(task.model)));
  try {
    const t = performance.now();
    const ok = model.run(task.X, task.nRows, task.output);
    const us = (performance.now() - t) * 1000;
    collectSoon(task.X.byteLength); // this thread's copy of a large input
    // The output moves to the main thread without a copy (a 2.4 M-row predict_proba is 55 MB) and is not left
    // behind in this thread's heap.
    const d = ok.data;
    if (!ArrayBuffer.isView(d) || !(d.buffer instanceof ArrayBuffer)) return { ok, us };
    return move({ [transferableSymbol]: [d.buffer], [valueSymbol]: { ok, us } } as never) as unknown as NativeTaskResult;
  } catch (err) {
    if (err instanceof NativeInputError) return { inputError: err.message };
    throw err;
  }
}
