import { SklearnModel } from './sklearn-model.js';
import { XGBoostModel } from './xgboost-model.js';
import type { NativeModel, Transferable } from './types.js';

/** Rebuilds a model from toTransferable() output (e.g. in a worker thread) over the same shared memory. */
export function nativeFromTransferable(t: Transferable): NativeModel {
  const meta = t.meta as { type?: string };
  switch (meta?.type) {
    case 'xgboost':
      return XGBoostModel.fromTransferable(t.meta as Parameters<typeof XGBoostModel.fromTransferable>[0], t.buffers);
    case 'sklearn':
      return SklearnModel.fromTransferable(t.meta as Parameters<typeof SklearnModel.fromTransferable>[0], t.buffers);
    default:
      throw new Error(`not a native model transferable (type ${String(meta?.type)})`);
  }
}
