export type NativeDatatype = 'FP32' | 'FP64' | 'INT64' | 'BYTES' | 'BOOL';

export type NativeOutput = {
  datatype: NativeDatatype;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | string[] | Uint8Array;
};

export interface Transferable {
  meta: unknown;
  buffers: (SharedArrayBuffer | ArrayBuffer)[];
}

export interface NativeModel {
  /** e.g. 'xgboost:binary:logistic', 'sklearn:RandomForestClassifier'. */
  readonly kind: string;
  readonly nFeatures: number;
  /** Which of booster / raw / predict / predict_proba / decision_function this model offers. */
  readonly outputNames: string[];
  /** X is row-major nRows x nFeatures. */
  run(X: Float64Array | Float32Array, nRows: number, output: string): NativeOutput;
  toTransferable(): Transferable;
}

export type FeatureMatrix = Float64Array | Float32Array;
