/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2) over the native engine's tree arrays.
 * Values are in the model's raw output space (xgboost margins, sklearn forest probabilities, gradient-boosting
 * decision values), as shap's model_output="raw" and xgboost's pred_contribs give them. No background data: the
 * training covers kept with each node weight the paths.
 */
import { XGBoostModel } from '../native/xgboost-model.js';
import { SklearnModel } from '../native/sklearn-model.js';
import { applyTransform, checkAccept, outputWidth } from '../native/sklearn-transforms.js';
import type { TreeArrays } from '../native/trees.js';
import type { NativeModel } from '../native/types.js';
import { ExplainError } from './errors.js';

/** A tree ensemble as TreeSHAP reads it: every tree adds weight * leaf to output column group * leafWidth + k. */
export interface TreeView {
  trees: TreeArrays;
  nFeatures: number;
  leafWidth: number;
  nOutputs: number;
  /** Extra factor on every tree (1 / n_trees for averaging forests). */
  scale: number;
  /** Raw output before any tree (xgboost base margin, sklearn init), per output. */
  base: Float64Array;
  /** xgboost: x (as float32) < threshold goes left; sklearn: x <= threshold, x cast to float32 or not. */
  compare: 'lt32' | 'le32' | 'le64';
  task: 'classification' | 'regression';
  /** Turns request rows into the features the trees split on (sklearn per-feature scalers), checking them. */
  prepare(X: Float64Array, nRows: number): Float64Array;
}

/** The TreeView of a native model, or an ExplainError saying why TreeShap cannot explain it. */
export function treeViewOf(model: NativeModel): TreeView {
  if (model instanceof XGBoostModel) {
    if (!model.trees) throw new ExplainError('TreeShap needs a tree booster; this is gblinear (use KernelShap)');
    const m = model.meta;
    return checkCovers({
      trees: model.trees,
      nFeatures: m.nFeatures,
      leafWidth: 1,
      nOutputs: m.nGroups,
      scale: 1,
      base: new Float64Array(m.nGroups).fill(model.margin0),
      compare: 'lt32',
      task: m.estimatorType === 'classifier' ? 'classification' : 'regression',
      prepare: (X) => X,
    });
  }
  if (model instanceof SklearnModel) {
    const h = model.meta.head;
    if (h.type !== 'trees' || !model.trees) throw new ExplainError(`TreeShap needs a tree model; ${model.kind} is linear (use LinearShap)`);
    const transforms = perFeatureTransforms(model, 'TreeShap');
    const nTrees = model.trees.treeRoot.length;
    return checkCovers({
      trees: model.trees,
      nFeatures: model.nFeatures,
      leafWidth: h.leafWidth,
      nOutputs: h.groups * h.leafWidth,
      scale: h.average ? 1 / nTrees : 1,
      base: Float64Array.from(model.arrays.init as Float64Array),
      compare: h.compare === 'f64le' ? 'le64' : 'le32',
      task: model.meta.spec.task === 'classifier' ? 'classification' : 'regression',
      prepare: (X, nRows) => {
        let Z = X;
        for (const t of transforms) Z = applyTransform(t, Z, nRows, model.nFeatures);
        checkAccept(Z, model.meta.spec.accept);
        return Z;
      },
    });
  }
  throw new ExplainError(`TreeShap explains tree models the native engine loads; ${model.kind} is not one (use KernelShap)`);
}

/**
 * Scalers, clipping and in-place imputation map each feature on its own, monotonically: splits (and coefficients)
 * on the transformed feature are about the original one, so attributions carry over. Steps that add, drop or mix
 * columns would not.
 */
export function perFeatureTransforms(model: SklearnModel, explainer: string): SklearnModel['transforms'] {
  for (const t of model.transforms) {
    const same = outputWidth(t, model.nFeatures) === model.nFeatures;
    const ok = t.op === 'center_scale' || t.op === 'mul_add' || (t.op === 'impute' && same && !t.indicator && t.keep.every((k, i) => k === i));
    if (!ok) throw new ExplainError(`${explainer} cannot attribute through the pipeline step '${t.op}' of ${model.kind} (use KernelShap)`);
  }
  return model.transforms;
}

function checkCovers(view: TreeView): TreeView {
  const { cover, treeRoot } = view.trees;
  for (let t = 0; t < treeRoot.length; t++) {
    if (!(cover[treeRoot[t]] > 0)) throw new ExplainError('TreeShap needs node covers, and this model file has none (re-save it with a current xgboost/sklearn)');
  }
  return view;
}

export interface TreeShapResult {
  /** Per output: nRows x nFeatures, row-major. */
  values: Float64Array[];
  /** Per output: the cover-weighted mean raw output (what the values are measured from). */
  expected: Float64Array;
  /** With interactions, per output: nRows x nFeatures x nFeatures (xgboost's pred_interactions without the bias row). */
  interactions?: Float64Array[];
}

/** TreeSHAP for every row of X (row-major, nRows x view.nFeatures), and SHAP interaction values if asked. */
export function treeShap(view: TreeView, X: Float64Array, nRows: number, interactions = false): TreeShapResult {
  const M = view.nFeatures, K = view.nOutputs;
  const Z = view.prepare(X, nRows);
  const walker = new PathWalker(view);
  const values = Array.from({ length: K }, () => new Float64Array(nRows * M));
  const inter = interactions ? Array.from({ length: K }, () => new Float64Array(nRows * M * M)) : undefined;
  const used = interactions ? usedFeatures(view) : [];
  const row = new Float64Array(M);
  const phi = new Float64Array(K * M);
  const on = new Float64Array(K * M);
  const off = new Float64Array(K * M);
  const cast = view.compare !== 'le64';
  for (let r = 0; r < nRows; r++) {
    for (let j = 0; j < M; j++) row[j] = cast ? Math.fround(Z[r * M + j]) : Z[r * M + j];
    phi.fill(0);
    walker.explain(row, phi);
    for (let k = 0; k < K; k++) values[k].set(phi.subarray(k * M, (k + 1) * M), r * M);
    if (!inter) continue;
    // Lundberg et al. 2018 §4 as xgboost computes it: entry [i][j] is half the change in φ_j between feature i
    // always known and never known; the diagonal keeps what is left of φ_i.
    for (const i of used) {
      on.fill(0);
      off.fill(0);
      walker.explain(row, on, 1, i);
      walker.explain(row, off, -1, i);
      for (let k = 0; k < K; k++) {
        const base = (r * M + i) * M;
        for (let j = 0; j < M; j++) if (j !== i) inter[k][base + j] = (on[k * M + j] - off[k * M + j]) / 2;
      }
    }
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < M; i++) {
        const base = (r * M + i) * M;
        let rest = 0;
        for (let j = 0; j < M; j++) if (j !== i) rest += inter[k][base + j];
        inter[k][base + i] = phi[k * M + i] - rest;
      }
    }
  }
  return { values, expected: expectedValue(view), ...(inter ? { interactions: inter } : {}) };
}

/** Features some split uses: conditioning on any other changes nothing. */
function usedFeatures(view: TreeView): number[] {
  const seen = new Uint8Array(view.nFeatures);
  for (const f of view.trees.feature) if (f >= 0) seen[f] = 1;
  return Array.from(seen.keys()).filter((j) => seen[j]);
}

/** Σ trees weight × cover-weighted mean leaf (xgboost's FillNodeMeanValue) + base, per output. */
export function expectedValue(view: TreeView): Float64Array {
  const { trees, leafWidth: W } = view;
  const out = Float64Array.from(view.base);
  const mean = new Float64Array(W);
  const walk = (node: number, acc: Float64Array): void => {
    if (trees.feature[node] < 0) {
      for (let k = 0; k < W; k++) acc[k] = trees.value[node * W + k];
      return;
    }
    const l = new Float64Array(W), r = new Float64Array(W);
    walk(trees.left[node], l);
    walk(trees.right[node], r);
    const cl = trees.cover[trees.left[node]], cr = trees.cover[trees.right[node]], c = trees.cover[node];
    for (let k = 0; k < W; k++) acc[k] = (l[k] * cl + r[k] * cr) / c;
  };
  for (let t = 0; t < trees.treeRoot.length; t++) {
    walk(trees.treeRoot[t], mean);
    const w = trees.treeWeight[t] * view.scale;
    for (let k = 0; k < W; k++) out[trees.treeGroup[t] * W + k] += w * mean[k];
  }
  return out;
}

/**
 * The recursion of Algorithm 2 with its "unique path" kept in flat typed arrays: each level copies its parent's
 * path into the next slice (the paper's O(D²) memory), so unwinding a repeated feature never disturbs the caller.
 */
class PathWalker {
  private readonly feat: Int32Array;
  private readonly zero: Float64Array;
  private readonly one: Float64Array;
  private readonly pw: Float64Array;
  private x!: Float64Array;
  private phi!: Float64Array;
  private treeScale = 1;
  private condition = 0;
  private conditionFeature = -1;
  private outBase = 0;
  // The tree arrays as fields of this object: the recursion reads them at every node.
  private readonly tFeature: Int32Array;
  private readonly tThreshold: Float64Array;
  private readonly tLeft: Int32Array;
  private readonly tRight: Int32Array;
  private readonly tDefaultLeft: Uint8Array;
  private readonly tValue: Float64Array;
  private readonly tCover: Float64Array;
  private readonly lessThan: boolean;
  private readonly W: number;
  private readonly M: number;

  constructor(private readonly view: TreeView) {
    const t = view.trees;
    this.tFeature = t.feature;
    this.tThreshold = t.threshold;
    this.tLeft = t.left;
    this.tRight = t.right;
    this.tDefaultLeft = t.defaultLeft;
    this.tValue = t.value;
    this.tCover = t.cover;
    this.lessThan = view.compare === 'lt32';
    this.W = view.leafWidth;
    this.M = view.nFeatures;
    const D = maxDepth(view.trees) + 2;
    const size = ((D + 1) * (D + 2)) / 2 + D + 1;
    this.feat = new Int32Array(size);
    this.zero = new Float64Array(size);
    this.one = new Float64Array(size);
    this.pw = new Float64Array(size);
  }

  /**
   * Adds each feature's TreeSHAP value for row x to phi (outputs x features). With a condition (+1 on, -1 off) on
   * one feature, the values are those of the game where that feature is always (never) known: shap's conditioned
   * recursion, from which interaction values are taken.
   */
  explain(x: Float64Array, phi: Float64Array, condition = 0, conditionFeature = -1): void {
    this.x = x;
    this.phi = phi;
    this.condition = condition;
    this.conditionFeature = conditionFeature;
    const { trees, leafWidth: W, nFeatures: M } = this.view;
    for (let t = 0; t < trees.treeRoot.length; t++) {
      this.treeScale = trees.treeWeight[t] * this.view.scale;
      this.outBase = trees.treeGroup[t] * W * M;
      this.recurse(trees.treeRoot[t], 0, 0, 1, 1, -1, 1);
    }
  }

  private goesLeft(node: number): boolean {
    const v = this.x[this.tFeature[node]];
    const th = this.tThreshold[node];
    if (v !== v) return this.tDefaultLeft[node] === 1;
    return this.lessThan ? v < th : v <= th;
  }

  /** `parent` is the offset of the caller's path; this level's path lives at parent + depth + 1. */
  private recurse(node: number, parent: number, depth: number, pz: number, po: number, pf: number, cf: number): void {
    if (cf === 0) return;
    const { feat, zero, one, pw } = this;
    const off = parent + depth + 1;
    // With a condition, the conditioned feature never enters the path: its parent's entry is copied too.
    const n = this.condition !== 0 && pf === this.conditionFeature ? depth + 1 : depth;
    for (let i = 0; i < n; i++) {
      feat[off + i] = feat[parent + i];
      zero[off + i] = zero[parent + i];
      one[off + i] = one[parent + i];
      pw[off + i] = pw[parent + i];
    }
    if (this.condition === 0 || pf !== this.conditionFeature) this.extend(off, depth, pz, po, pf);
    const split = this.tFeature[node];
    if (split < 0) {
      const W = this.W, M = this.M, value = this.tValue, phi = this.phi;
      for (let i = 1; i <= depth; i++) {
        const w = this.unwoundSum(off, depth, i) * (one[off + i] - zero[off + i]) * this.treeScale * cf;
        const f = feat[off + i];
        for (let k = 0; k < W; k++) phi[this.outBase + k * M + f] += w * value[node * W + k];
      }
      return;
    }
    const left = this.goesLeft(node);
    const hot = left ? this.tLeft[node] : this.tRight[node];
    const cold = left ? this.tRight[node] : this.tLeft[node];
    const cover = this.tCover;
    const c = cover[node];
    let iz = 1, io = 1;
    let d = depth;
    let k = 1;
    for (; k <= d; k++) if (feat[off + k] === split) break;
    if (k <= d) {
      // The feature was split on higher up: undo its earlier entry and carry its fractions down.
      iz = zero[off + k];
      io = one[off + k];
      this.unwind(off, d, k);
      d--;
    }
    const hz = cover[hot] / c, cz = cover[cold] / c;
    let hcf = cf, ccf = cf;
    if (this.condition !== 0 && split === this.conditionFeature) {
      // Known feature: only x's branch counts; unknown: both, weighted by cover. Either way it takes no path slot.
      if (this.condition > 0) ccf = 0;
      else {
        hcf *= hz;
        ccf *= cz;
      }
      d--;
    }
    this.recurse(hot, off, d + 1, hz * iz, io, split, hcf);
    this.recurse(cold, off, d + 1, cz * iz, 0, split, ccf);
  }

  private extend(off: number, d: number, z: number, o: number, f: number): void {
    const { feat, zero, one, pw } = this;
    feat[off + d] = f;
    zero[off + d] = z;
    one[off + d] = o;
    pw[off + d] = d === 0 ? 1 : 0;
    for (let i = d - 1; i >= 0; i--) {
      pw[off + i + 1] += (o * pw[off + i] * (i + 1)) / (d + 1);
      pw[off + i] = (z * pw[off + i] * (d - i)) / (d + 1);
    }
  }

  private unwind(off: number, d: number, k: number): void {
    const { feat, zero, one, pw } = this;
    const o = one[off + k], z = zero[off + k];
    let next = pw[off + d];
    for (let i = d - 1; i >= 0; i--) {
      if (o !== 0) {
        const tmp = pw[off + i];
        pw[off + i] = (next * (d + 1)) / ((i + 1) * o);
        next = tmp - (pw[off + i] * z * (d - i)) / (d + 1);
      } else {
        pw[off + i] = (pw[off + i] * (d + 1)) / (z * (d - i));
      }
    }
    for (let i = k; i < d; i++) {
      feat[off + i] = feat[off + i + 1];
      zero[off + i] = zero[off + i + 1];
      one[off + i] = one[off + i + 1];
    }
  }

  /** Total permutation weight with entry k unwound, without changing the path. */
  private unwoundSum(off: number, d: number, k: number): number {
    const { zero, one, pw } = this;
    const o = one[off + k], z = zero[off + k];
    let next = pw[off + d];
    let total = 0;
    for (let i = d - 1; i >= 0; i--) {
      if (o !== 0) {
        const tmp = (next * (d + 1)) / ((i + 1) * o);
        total += tmp;
        next = pw[off + i] - (tmp * z * (d - i)) / (d + 1);
      } else if (z !== 0) {
        total += pw[off + i] / z / ((d - i) / (d + 1));
      }
    }
    return total;
  }
}

function maxDepth(t: TreeArrays): number {
  let best = 0;
  const stack: number[] = [];
  for (let i = 0; i < t.treeRoot.length; i++) {
    stack.push(t.treeRoot[i], 0);
    while (stack.length) {
      const depth = stack.pop()!;
      const node = stack.pop()!;
      if (depth > best) best = depth;
      if (t.feature[node] >= 0) stack.push(t.left[node], depth + 1, t.right[node], depth + 1);
    }
  }
  return best;
}
