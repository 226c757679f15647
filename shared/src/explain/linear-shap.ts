/**
 * Exact linear SHAP (Lundberg & Lee 2017): for f(z) = W z + b with independent features, φ_i = W_ki (z_i − E z_i)
 * and φ_0 = W_k·E z + b_k per output k, in margin space (decision_function), against the background mean. A
 * pipeline's per-feature scalers keep the model linear in each input feature, so values are taken on the scaled
 * features and belong to the same inputs.
 */
import { SklearnModel } from '../native/sklearn-model.js';
import { applyTransform } from '../native/sklearn-transforms.js';
import type { NativeModel } from '../native/types.js';
import type { Background } from './background.js';
import { ExplainError } from './errors.js';
import { perFeatureTransforms } from './tree-shap.js';

export interface LinearShapResult {
  values: Float64Array[];
  expected: Float64Array;
  prediction: Float64Array;
}

export class LinearShap {
  private readonly coef: Float64Array;
  private readonly intercept: Float64Array;
  private readonly K: number;
  private readonly mean: Float64Array;
  readonly nFeatures: number;
  readonly task: 'classification' | 'regression';

  constructor(
    private readonly model: NativeModel,
    background: Background,
  ) {
    if (!(model instanceof SklearnModel) || model.meta.head.type !== 'linear') {
      throw new ExplainError(`LinearShap explains linear models the native engine serves; ${model.kind} is not one (use KernelShap or TreeShap)`);
    }
    perFeatureTransforms(model, 'LinearShap');
    if (background.nFeatures !== model.nFeatures) throw new ExplainError(`background data has ${background.nFeatures} features, the model ${model.nFeatures}`);
    this.nFeatures = model.nFeatures;
    this.coef = model.arrays.coef as Float64Array;
    this.intercept = model.arrays.intercept as Float64Array;
    this.K = model.meta.head.rows;
    this.task = model.meta.spec.task === 'classifier' ? 'classification' : 'regression';
    const Z = this.transform(background.X, background.nRows);
    const M = this.nFeatures;
    this.mean = new Float64Array(M);
    for (let r = 0; r < background.nRows; r++) for (let j = 0; j < M; j++) this.mean[j] += Z[r * M + j] / background.nRows;
  }

  private transform(X: Float64Array, nRows: number): Float64Array {
    let Z = X;
    for (const t of (this.model as SklearnModel).transforms) Z = applyTransform(t, Z, nRows, this.nFeatures);
    return Z;
  }

  explain(X: Float64Array, nRows: number): LinearShapResult {
    const M = this.nFeatures, K = this.K;
    const Z = this.transform(X, nRows);
    const expected = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      expected[k] = this.intercept[k];
      for (let j = 0; j < M; j++) expected[k] += this.coef[k * M + j] * this.mean[j];
    }
    const values = Array.from({ length: K }, () => new Float64Array(nRows * M));
    const prediction = new Float64Array(nRows * K);
    for (let r = 0; r < nRows; r++) {
      for (let k = 0; k < K; k++) {
        let s = expected[k];
        for (let j = 0; j < M; j++) {
          const v = this.coef[k * M + j] * (Z[r * M + j] - this.mean[j]);
          values[k][r * M + j] = v;
          s += v;
        }
        prediction[r * K + k] = s;
      }
    }
    return { values, expected, prediction };
  }
}
