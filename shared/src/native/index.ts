export type { NativeOutput, NativeModel, Transferable } from './types.js';
export { UnsupportedModelError, NativeInputError } from './errors.js';
export { loadXGBoostModel } from './xgboost-load.js';
export { nativeFromTransferable } from './transfer.js';
export { nativeFromSklearnExport } from './sklearn-build.js';
export { exportSklearnFile, checkParity, type SklearnExportResult, type SklearnProbe, type ParityReport } from './sklearn-parity.js';
export { NativeRuntime, type NativeRuntimeOptions } from './runtime.js';
export { exportSklearnCached, cacheDir, BESIDE_SUFFIX, type CachedExport } from './sklearn-cache.js';
