/**
 * piscina worker for TreeSHAP: rebuilds the native model over the SharedArrayBuffers it was handed (no copy) and
 * explains batches off the event loop, as the native engine's own worker evaluates them.
 */
import { workerData } from 'node:worker_threads';
import { nativeFromTransferable } from '../native/transfer.js';
import type { Transferable } from '../native/types.js';
import { treeShap, treeViewOf, type TreeShapResult } from './tree-shap.js';

export interface TreeShapTask {
  X: Float64Array;
  nRows: number;
  interactions: boolean;
}

const view = treeViewOf(nativeFromTransferable((workerData as { model: Transferable }).model));

export default function run(task: TreeShapTask): TreeShapResult | { error: string } {
  try {
    return treeShap(view, task.X, task.nRows, task.interactions);
  } catch (err) {
    return { error: (err as Error).message };
  }
}
