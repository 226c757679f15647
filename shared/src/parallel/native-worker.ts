/**
 * piscina worker for the native engine: rebuilds the model once over the SharedArrayBuffers it was handed (no copy
 * per worker) and evaluates batches off the event loop.
 */
import { workerData } from 'node:worker_threads';
import { nativeFromTransferable } from '../native/transfer.js';
import { NativeInputError } from '../native/errors.js';
import type { NativeOutput, Transferable } from '../native/types.js';

export interface NativeTask {
  X: Float64Array | Float32Array;
  nRows: number;
  output: string;
}

export type NativeTaskResult = { ok: NativeOutput } | { inputError: string };

const model = nativeFromTransferable((workerData as { model: Transferable }).model);

export default function run(task: NativeTask): NativeTaskResult {
  try {
    return { ok: model.run(task.X, task.nRows, task.output) };
  } catch (err) {
    if (err instanceof NativeInputError) return { inputError: err.message };
    throw err;
  }
}
