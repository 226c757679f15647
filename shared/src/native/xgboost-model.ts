import { packArrays, toShared, unpackArrays, type ArrayDesc, type NumArray } from './arrays.js';
import { checkRun } from './check.js';
import { argmax, sigmoidf, softmaxf } from './f32math.js';
import { BLOCK_ROWS, leafLt, treeArraysFrom, treeArraysRecord, type TreeArrays } from './trees.js';
import type { FeatureMatrix, NativeModel, NativeOutput, Transferable } from './types.js';
import { baseMargin, objectiveSpec } from './xgboost-objective.js';

export interface XGBoostMeta {
  objective: string;
  booster: 'gbtree' | 'dart' | 'gblinear';
  nFeatures: number;
  /** Margin columns: max(num_class, num_target, 1). */
  nGroups: number;
  /** learner_model_param.base_score, output space (float32). */
  baseScore: number;
  /** Trees per boosting round: nGroups * num_parallel_tree. */
  layerSize: number;
  /** best_iteration attribute: XGBClassifier/XGBRegressor.predict stop there, booster.predict does not. */
  bestIteration: number | null;
  /** The scikit-learn wrapper's view, from the saved `scikit_learn` attribute or inferred from the objective. */
  estimatorType: 'classifier' | 'regressor';
  nClasses: number;
}

type Out = { data: Float32Array; width: number };

/** A gbtree / dart / gblinear booster evaluated with XGBoost's float32 arithmetic. */
export class XGBoostModel implements NativeModel {
  readonly kind: string;
  readonly nFeatures: number;
  readonly outputNames: string[];
  private readonly spec;
  readonly margin0: number;

  constructor(
    readonly meta: XGBoostMeta,
    readonly trees: TreeArrays | null,
    /** gblinear: (nFeatures + 1) x nGroups, bias row last, as xgboost stores it. */
    readonly linear: Float32Array | null,
  ) {
    this.spec = objectiveSpec(meta.objective);
    this.margin0 = baseMargin(meta.baseScore, this.spec.baseLink);
    this.kind = `xgboost:${meta.objective}`;
    this.nFeatures = meta.nFeatures;
    const names = ['booster', 'raw', 'predict'];
    if (meta.estimatorType === 'classifier' && this.probaLayout() !== null) names.push('predict_proba');
    this.outputNames = names;
  }

  private get nTrees(): number {
    return this.trees ? this.trees.treeRoot.length : 0;
  }

  /** Tree count the scikit-learn wrapper predicts with: (0, best_iteration + 1) rounds, gblinear ignores it. */
  private get sklearnTreeEnd(): number {
    const b = this.meta.bestIteration;
    return b === null ? this.nTrees : Math.min(this.nTrees, (b + 1) * this.meta.layerSize);
  }

  run(X: FeatureMatrix, nRows: number, output: string): NativeOutput {
    checkRun(X, nRows, this.nFeatures, output, this.outputNames);
    switch (output) {
      case 'raw':
        return fp32(this.margins(X, nRows, this.nTrees), nRows, this.meta.nGroups);
      case 'booster': {
        const o = this.transform(this.margins(X, nRows, this.nTrees), nRows);
        return fp32(o.data, nRows, o.width);
      }
      case 'predict':
        return this.predict(X, nRows);
      default:
        return this.predictProba(X, nRows);
    }
  }

  /** Raw margins, nRows x nGroups, starting from the base margin and summed tree by tree in float32. */
  margins(X: FeatureMatrix, nRows: number, treeEnd: number): Float32Array {
    const G = this.meta.nGroups;
    const out = new Float32Array(nRows * G);
    if (this.linear) {
      this.linearMargins(X, nRows, out);
      return out;
    }
    out.fill(this.margin0);
    const t = this.trees!;
    const nF = this.nFeatures;
    const block = new Float32Array(BLOCK_ROWS * nF);
    const { treeRoot, treeGroup, treeWeight, value } = t;
    for (let r0 = 0; r0 < nRows; r0 += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, nRows - r0);
      // Float32Array.set rounds each value to float32: XGBoost's DMatrix stores features as float.
      block.set(X.subarray(r0 * nF, (r0 + rows) * nF));
      for (let ti = 0; ti < treeEnd; ti++) {
        const root = treeRoot[ti];
        const g = treeGroup[ti];
        const w = treeWeight[ti];
        let o = r0 * G + g;
        for (let r = 0; r < rows; r++, o += G) {
          // Writing to a Float32Array rounds: float32 accumulation as in the C++ predictor; w is 1 except for dart.
          out[o] += Math.fround(value[leafLt(t, root, block, r * nF)] * w);
        }
      }
    }
    return out;
  }

  /** GBLinear::Pred: psum = bias + base, then psum += x * w over present (non-NaN) features, all in float. */
  private linearMargins(X: FeatureMatrix, nRows: number, out: Float32Array): void {
    const G = this.meta.nGroups;
    const nF = this.nFeatures;
    const W = this.linear!;
    const f = Math.fround;
    for (let r = 0; r < nRows; r++) {
      for (let g = 0; g < G; g++) {
        let psum = f(W[nF * G + g] + this.margin0);
        for (let j = 0; j < nF; j++) {
          const x = f(X[r * nF + j]);
          if (x === x) psum = f(psum + f(x * W[j * G + g]));
        }
        out[r * G + g] = psum;
      }
    }
  }

  /** The objective's PredTransform, in place where the width is unchanged. */
  private transform(m: Float32Array, nRows: number): Out {
    const G = this.meta.nGroups;
    switch (this.spec.transform) {
      case 'identity':
        return { data: m, width: G };
      case 'sigmoid':
        for (let i = 0; i < m.length; i++) m[i] = sigmoidf(m[i]);
        return { data: m, width: G };
      case 'exp':
        for (let i = 0; i < m.length; i++) m[i] = Math.exp(m[i]);
        return { data: m, width: G };
      case 'hinge':
        for (let i = 0; i < m.length; i++) m[i] = m[i] > 0 ? 1 : 0;
        return { data: m, width: G };
      case 'softmax':
        for (let r = 0; r < nRows; r++) softmaxf(m, r * G, G);
        return { data: m, width: G };
      case 'argmax': {
        const out = new Float32Array(nRows);
        for (let r = 0; r < nRows; r++) out[r] = argmax(m, r * G, G);
        return { data: out, width: 1 };
      }
    }
  }

  /** XGBClassifier.predict / XGBRegressor.predict (xgboost 1.7 sklearn.py). */
  private predict(X: FeatureMatrix, nRows: number): NativeOutput {
    const p = this.transform(this.margins(X, nRows, this.sklearnTreeEnd), nRows);
    if (this.meta.estimatorType === 'regressor') return fp32(p.data, nRows, p.width);
    const labels = new BigInt64Array(nRows);
    if (p.width > 1 && this.meta.nClasses !== 2) {
      for (let r = 0; r < nRows; r++) labels[r] = BigInt(argmax(p.data, r * p.width, p.width));
    } else if (p.width > 1) {
      // Multi-label: a float64 0/1 matrix.
      const m = new Float64Array(p.data.length);
      for (let i = 0; i < m.length; i++) m[i] = p.data[i] > 0.5 ? 1 : 0;
      return { datatype: 'FP64', shape: [nRows, p.width], data: m };
    } else if (this.meta.objective === 'multi:softmax') {
      // xgboost returns int32 class indices here; INT64 carries the same values.
      for (let r = 0; r < nRows; r++) labels[r] = BigInt(Math.trunc(p.data[r]));
    } else {
      for (let r = 0; r < nRows; r++) labels[r] = p.data[r] > 0.5 ? 1n : 0n;
    }
    return { datatype: 'INT64', shape: [nRows], data: labels };
  }

  /** How predict_proba is formed from the transformed predictions (_cls_predict_proba), or null if it is not. */
  private probaLayout(): 'as-is' | 'binary' | 'softmax-margin' | null {
    if (this.meta.objective === 'multi:softmax') return 'softmax-margin';
    const w = this.meta.nGroups;
    if (w > 1 && (w === this.meta.nClasses || (this.meta.nClasses === 2 && w >= 2))) return 'as-is';
    return w === 1 ? 'binary' : null;
  }

  private predictProba(X: FeatureMatrix, nRows: number): NativeOutput {
    const end = this.sklearnTreeEnd;
    const layout = this.probaLayout();
    if (layout === 'softmax-margin') {
      // scipy.special.softmax on the float32 margins (numpy's float32 exp; matches to float32 rounding).
      const m = this.margins(X, nRows, end);
      softmaxRows32(m, nRows, this.meta.nGroups);
      return fp32(m, nRows, this.meta.nGroups);
    }
    const p = this.transform(this.margins(X, nRows, end), nRows);
    if (layout === 'as-is') return fp32(p.data, nRows, p.width);
    const out = new Float32Array(nRows * 2);
    for (let r = 0; r < nRows; r++) {
      out[2 * r] = 1 - p.data[r];
      out[2 * r + 1] = p.data[r];
    }
    return { datatype: 'FP32', shape: [nRows, 2], data: out };
  }

  toTransferable(): Transferable {
    const arrays: Record<string, NumArray> = this.trees ? treeArraysRecord(this.trees) : { linear: toShared(this.linear!) };
    const { descs, buffers } = packArrays(arrays);
    return { meta: { type: 'xgboost', meta: this.meta, arrays: descs }, buffers };
  }

  static fromTransferable(meta: { meta: XGBoostMeta; arrays: ArrayDesc[] }, buffers: (SharedArrayBuffer | ArrayBuffer)[]): XGBoostModel {
    const arrays = unpackArrays(meta.arrays, buffers);
    return meta.meta.booster === 'gblinear'
      ? new XGBoostModel(meta.meta, null, arrays.linear as Float32Array)
      : new XGBoostModel(meta.meta, treeArraysFrom(arrays), null);
  }
}

function fp32(data: Float32Array, nRows: number, width: number): NativeOutput {
  return { datatype: 'FP32', shape: width === 1 ? [nRows] : [nRows, width], data };
}

/** scipy.special.softmax(x, axis=1) evaluated on float32 data. */
function softmaxRows32(m: Float32Array, nRows: number, G: number): void {
  for (let r = 0; r < nRows; r++) {
    const o = r * G;
    let mx = m[o];
    for (let k = 1; k < G; k++) if (m[o + k] > mx) mx = m[o + k];
    let s = 0;
    for (let k = 0; k < G; k++) {
      m[o + k] = Math.exp(m[o + k] - mx);
      s += m[o + k];
    }
    const sf = Math.fround(s);
    for (let k = 0; k < G; k++) m[o + k] = m[o + k] / sf;
  }
}
