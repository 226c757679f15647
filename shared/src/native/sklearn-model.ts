import { packArrays, unpackArrays, type ArrayDesc, type NumArray } from './arrays.js';
import { checkRun } from './check.js';
import { NativeInputError } from './errors.js';
import { argmaxRow, expit, logsumexpProbaRow, softmaxRow } from './sklearn-math.js';
import { applyTransform, checkAccept, outputWidth, type Accept, type Transform } from './sklearn-transforms.js';
import { BLOCK_ROWS, leafLe, treeArraysFrom, type TreeArrays } from './trees.js';
import type { FeatureMatrix, NativeDatatype, NativeModel, NativeOutput, Transferable } from './types.js';

/** A transform as JSON metadata: typed arrays are replaced by their names in the model's array record. */
export type TransformMeta =
  | { op: 'center_scale'; sub: string | null; div: string | null; accept: Accept }
  | { op: 'mul_add'; mul: string; add: string; clip: [number, number] | null; accept: Accept }
  | { op: 'impute'; missing: number | null; fill: string; keep: string; indicator: string | null; accept: Accept }
  | { op: 'onehot'; categories: string[]; drop: number[]; unknown: 'error' | 'ignore'; accept: Accept };

export type HeadMeta =
  | { type: 'linear'; rows: number }
  /** Forests average leaf vectors (groups 1, leafWidth classes/outputs); boosting sums weighted leaves per group. */
  | { type: 'trees'; compare: 'f32le' | 'f64le'; leafWidth: number; groups: number; average: boolean };

export interface SpecMeta {
  task: 'classifier' | 'regressor';
  /** Whether a single raw column is returned 1-D. */
  ravel?: boolean;
  predict: 'identity' | 'exp' | 'decision' | 'proba-argmax' | 'raw-ge0';
  decision?: boolean;
  proba?: 'identity' | 'expit' | 'expit2x' | 'softmax' | 'logsumexp' | 'ovr' | null;
  accept: Accept;
  classes?: { datatype: NativeDatatype; values: (string | number | boolean)[] };
}

export interface SklearnMeta {
  kind: string;
  nFeatures: number;
  outputs: string[];
  transforms: TransformMeta[];
  head: HeadMeta;
  spec: SpecMeta;
}

/** A fitted sklearn estimator or pipeline: preprocessing transforms, then a linear or tree head, then the link. */
export class SklearnModel implements NativeModel {
  readonly kind: string;
  readonly nFeatures: number;
  readonly outputNames: string[];
  readonly transforms: Transform[];
  readonly headWidth: number;
  readonly trees: TreeArrays | null;

  constructor(
    readonly meta: SklearnMeta,
    readonly arrays: Record<string, NumArray>,
  ) {
    this.kind = meta.kind;
    this.nFeatures = meta.nFeatures;
    this.outputNames = meta.outputs;
    const get = (name: string): NumArray => {
      const a = arrays[name];
      if (!a) throw new Error(`sklearn native model: array '${name}' missing`);
      return a;
    };
    const f64 = (n: string) => get(n) as Float64Array;
    const i32 = (n: string) => get(n) as Int32Array;
    this.transforms = meta.transforms.map((t): Transform => {
      switch (t.op) {
        case 'center_scale':
          return { ...t, sub: t.sub === null ? null : f64(t.sub), div: t.div === null ? null : f64(t.div) };
        case 'mul_add':
          return { ...t, mul: f64(t.mul), add: f64(t.add) };
        case 'impute':
          return { ...t, fill: f64(t.fill), keep: i32(t.keep), indicator: t.indicator === null ? null : i32(t.indicator) };
        case 'onehot':
          return { ...t, categories: t.categories.map(f64) };
      }
    });
    let width = meta.nFeatures;
    for (const t of this.transforms) width = outputWidth(t, width);
    this.headWidth = width;
    if (meta.head.type === 'linear') {
      if (f64('coef').length !== meta.head.rows * width) throw new Error(`sklearn native model: coef is not ${meta.head.rows} x ${width}`);
      this.trees = null;
    } else {
      const prefixed: Record<string, NumArray> = {};
      for (const [k, v] of Object.entries(arrays)) if (k.startsWith('tree.')) prefixed[k.slice(5)] = v;
      this.trees = treeArraysFrom(prefixed);
      const feat = this.trees.feature;
      for (let i = 0; i < feat.length; i++) {
        if (feat[i] >= width) throw new Error(`sklearn native model: split on feature ${feat[i]} of ${width}`);
      }
    }
  }

  /** Columns of the raw output (decision scores / tree sums). */
  private get rawWidth(): number {
    const h = this.meta.head;
    return h.type === 'linear' ? h.rows : h.groups * h.leafWidth;
  }

  run(X: FeatureMatrix, nRows: number, output: string): NativeOutput {
    checkRun(X, nRows, this.nFeatures, output, this.outputNames);
    // Float32 requests are widened: values are exact, and sklearn validates to float64 for these estimators.
    let Z: Float64Array = X instanceof Float64Array ? X : Float64Array.from(X);
    let width = this.nFeatures;
    for (const t of this.transforms) {
      Z = applyTransform(t, Z, nRows, width);
      width = outputWidth(t, width);
    }
    checkAccept(Z, this.meta.spec.accept);
    const raw = this.meta.head.type === 'linear' ? this.linearRaw(Z, nRows) : this.treeRaw(Z, nRows);
    const R = this.rawWidth;
    const spec = this.meta.spec;
    if (output === 'decision_function') return fp64(raw, nRows, R, spec.ravel === true);
    if (output === 'predict_proba') {
      return { datatype: 'FP64', shape: [nRows, this.probaWidth], data: this.proba(raw, nRows) };
    }
    switch (spec.predict) {
      case 'identity':
        return fp64(raw, nRows, R, spec.ravel === true);
      case 'exp':
        for (let i = 0; i < raw.length; i++) raw[i] = Math.exp(raw[i]);
        return fp64(raw, nRows, R, spec.ravel === true);
      case 'decision':
        return this.labels(nRows, (r) => (R === 1 ? (raw[r] > 0 ? 1 : 0) : argmaxRow(raw, r * R, R)));
      case 'raw-ge0':
        return this.labels(nRows, (r) => (raw[r] >= 0 ? 1 : 0));
      case 'proba-argmax': {
        const p = this.proba(raw, nRows);
        const C = this.probaWidth;
        return this.labels(nRows, (r) => argmaxRow(p, r * C, C));
      }
    }
  }

  /** Binary models expand one raw column into [1 - p, p]. */
  private get probaWidth(): number {
    return this.rawWidth === 1 && this.meta.spec.proba !== 'identity' ? 2 : this.rawWidth;
  }

  /** safe_sparse_dot(X, coef_.T) + intercept_. */
  private linearRaw(Z: Float64Array, nRows: number): Float64Array {
    const K = this.rawWidth;
    const P = this.headWidth;
    const coef = this.arrays.coef as Float64Array;
    const intercept = this.arrays.intercept as Float64Array;
    const out = new Float64Array(nRows * K);
    for (let r = 0; r < nRows; r++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < P; j++) s += Z[r * P + j] * coef[k * P + j];
        out[r * K + k] = s + intercept[k];
      }
    }
    return out;
  }

  /** init + sum over trees of weight * leaf, in tree order (then / n_trees for forests), all float64. */
  private treeRaw(Z: Float64Array, nRows: number): Float64Array {
    const h = this.meta.head as Extract<HeadMeta, { type: 'trees' }>;
    const t = this.trees!;
    const P = this.headWidth;
    const W = h.leafWidth;
    const R = h.groups * W;
    const init = this.arrays.init as Float64Array;
    const out = new Float64Array(nRows * R);
    for (let r = 0; r < nRows; r++) out.set(init, r * R);
    // DecisionTree/forests/GradientBoosting validate X to float32; HistGradientBoosting keeps float64.
    const block = new Float64Array(BLOCK_ROWS * P);
    const cast = h.compare === 'f32le';
    const { treeRoot, treeGroup, treeWeight, value } = t;
    const nTrees = treeRoot.length;
    for (let r0 = 0; r0 < nRows; r0 += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, nRows - r0);
      const src = Z.subarray(r0 * P, (r0 + rows) * P);
      if (cast) for (let i = 0; i < src.length; i++) block[i] = Math.fround(src[i]);
      else block.set(src);
      for (let ti = 0; ti < nTrees; ti++) {
        const root = treeRoot[ti];
        const w = treeWeight[ti];
        const g = treeGroup[ti] * W;
        for (let r = 0; r < rows; r++) {
          const leaf = leafLe(t, root, block, r * P) * W;
          const o = (r0 + r) * R + g;
          if (W === 1) out[o] += w * value[leaf];
          else for (let k = 0; k < W; k++) out[o + k] += value[leaf + k];
        }
      }
    }
    if (h.average) for (let i = 0; i < out.length; i++) out[i] /= nTrees;
    return out;
  }

  private proba(raw: Float64Array, nRows: number): Float64Array {
    const R = this.rawWidth;
    const kind = this.meta.spec.proba;
    if (kind === 'identity') return raw;
    if (R === 1) {
      // Binary: [1 - p, p] (a 1-D decision becomes [-d, d] for the multinomial softmax).
      const out = new Float64Array(nRows * 2);
      for (let r = 0; r < nRows; r++) {
        const d = raw[r];
        if (kind === 'softmax') {
          out[2 * r] = -d;
          out[2 * r + 1] = d;
          softmaxRow(out, 2 * r, 2);
        } else {
          const p = kind === 'expit2x' ? expit(2 * d) : expit(d);
          out[2 * r] = 1 - p;
          out[2 * r + 1] = p;
        }
      }
      return out;
    }
    for (let r = 0; r < nRows; r++) {
      const o = r * R;
      if (kind === 'softmax') softmaxRow(raw, o, R);
      else if (kind === 'logsumexp') logsumexpProbaRow(raw, o, R);
      else if (kind === 'ovr') {
        // LinearClassifierMixin._predict_proba_lr: expit, then normalise each row by its sum.
        let s = 0;
        for (let k = 0; k < R; k++) s += raw[o + k] = expit(raw[o + k]);
        for (let k = 0; k < R; k++) raw[o + k] /= s;
      } else throw new NativeInputError(`predict_proba '${kind}' needs a binary model`);
    }
    return raw;
  }

  /** classes_[index] in the classes' own datatype. */
  private labels(nRows: number, index: (r: number) => number): NativeOutput {
    const c = this.meta.spec.classes!;
    const v = c.values;
    switch (c.datatype) {
      case 'INT64': {
        const big = v.map((x) => BigInt(x as string));
        const out = new BigInt64Array(nRows);
        for (let r = 0; r < nRows; r++) out[r] = big[index(r)];
        return { datatype: 'INT64', shape: [nRows], data: out };
      }
      case 'FP64': {
        const out = new Float64Array(nRows);
        for (let r = 0; r < nRows; r++) out[r] = v[index(r)] as number;
        return { datatype: 'FP64', shape: [nRows], data: out };
      }
      case 'BOOL': {
        const out = new Uint8Array(nRows);
        for (let r = 0; r < nRows; r++) out[r] = v[index(r)] ? 1 : 0;
        return { datatype: 'BOOL', shape: [nRows], data: out };
      }
      default: {
        const out: string[] = new Array(nRows);
        for (let r = 0; r < nRows; r++) out[r] = String(v[index(r)]);
        return { datatype: 'BYTES', shape: [nRows], data: out };
      }
    }
  }

  toTransferable(): Transferable {
    const { descs, buffers } = packArrays(this.arrays);
    return { meta: { type: 'sklearn', meta: this.meta, arrays: descs }, buffers };
  }

  static fromTransferable(meta: { meta: SklearnMeta; arrays: ArrayDesc[] }, buffers: (SharedArrayBuffer | ArrayBuffer)[]): SklearnModel {
    return new SklearnModel(meta.meta, unpackArrays(meta.arrays, buffers));
  }
}

function fp64(data: Float64Array, nRows: number, width: number, ravel: boolean): NativeOutput {
  return { datatype: 'FP64', shape: ravel && width === 1 ? [nRows] : [nRows, width], data };
}
