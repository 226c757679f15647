import { sharedArray, type NumArray } from './arrays.js';

/**
 * A forest as flat arrays. Node indices are absolute (into the concatenation of all trees); feature < 0 marks a leaf.
 * `value` holds `leafWidth` numbers per node (only leaves' are read). Per tree: root node, output group, weight.
 */
export interface TreeArrays {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  defaultLeft: Uint8Array;
  value: Float64Array;
  /** Training cover per node (xgboost sum_hess, sklearn weighted_n_node_samples): TreeSHAP's path weights. 0 when unknown. */
  cover: Float64Array;
  treeRoot: Int32Array;
  treeGroup: Int32Array;
  treeWeight: Float64Array;
}

export interface TreeInput {
  /** Per node; leaves have feature -1 (or any negative) and children -1. */
  feature: ArrayLike<number>;
  threshold: ArrayLike<number>;
  left: ArrayLike<number>;
  right: ArrayLike<number>;
  defaultLeft?: ArrayLike<number>;
  /** leafWidth values per node. */
  value: ArrayLike<number>;
  cover?: ArrayLike<number>;
  group?: number;
  weight?: number;
}

/** Concatenates trees into shared arrays, turning child indices absolute. */
export function buildTreeArrays(trees: TreeInput[], leafWidth: number): TreeArrays {
  const total = trees.reduce((s, t) => s + t.feature.length, 0);
  const a: TreeArrays = {
    feature: sharedArray('i32', total),
    threshold: sharedArray('f64', total),
    left: sharedArray('i32', total),
    right: sharedArray('i32', total),
    defaultLeft: sharedArray('u8', total),
    value: sharedArray('f64', total * leafWidth),
    cover: sharedArray('f64', total),
    treeRoot: sharedArray('i32', trees.length),
    treeGroup: sharedArray('i32', trees.length),
    treeWeight: sharedArray('f64', trees.length),
  };
  let base = 0;
  trees.forEach((t, ti) => {
    const n = t.feature.length;
    if (t.value.length !== n * leafWidth) throw new Error(`tree ${ti}: ${t.value.length} leaf values for ${n} nodes x ${leafWidth}`);
    for (let i = 0; i < n; i++) {
      const leaf = t.feature[i] < 0 || t.left[i] < 0;
      a.feature[base + i] = leaf ? -1 : t.feature[i];
      a.threshold[base + i] = t.threshold[i];
      a.left[base + i] = leaf ? -1 : base + t.left[i];
      a.right[base + i] = leaf ? -1 : base + t.right[i];
      a.defaultLeft[base + i] = t.defaultLeft ? t.defaultLeft[i] : 0;
      if (!leaf && (t.left[i] >= n || t.right[i] >= n)) throw new Error(`tree ${ti}: node ${i} has a child outside the tree`);
    }
    a.value.set(Array.from(t.value), base * leafWidth);
    if (t.cover) {
      if (t.cover.length !== n) throw new Error(`tree ${ti}: ${t.cover.length} covers for ${n} nodes`);
      a.cover.set(Array.from(t.cover), base);
    }
    a.treeRoot[ti] = base;
    a.treeGroup[ti] = t.group ?? 0;
    a.treeWeight[ti] = t.weight ?? 1;
    base += n;
  });
  return a;
}

export function treeArraysRecord(t: TreeArrays): Record<string, NumArray> {
  return { ...t };
}

export function treeArraysFrom(r: Record<string, NumArray>): TreeArrays {
  return {
    feature: r.feature as Int32Array,
    threshold: r.threshold as Float64Array,
    left: r.left as Int32Array,
    right: r.right as Int32Array,
    defaultLeft: r.defaultLeft as Uint8Array,
    value: r.value as Float64Array,
    cover: r.cover as Float64Array,
    treeRoot: r.treeRoot as Int32Array,
    treeGroup: r.treeGroup as Int32Array,
    treeWeight: r.treeWeight as Float64Array,
  };
}

/** Rows are processed in blocks so the block's features stay in cache while every tree walks them. */
export const BLOCK_ROWS = 64;

/**
 * XGBoost semantics: go left when x < split, with x already cast to float32 (the caller fills a Float32Array);
 * NaN (missing) takes the node's default direction.
 */
export function leafLt(t: TreeArrays, node: number, x: Float32Array, off: number): number {
  const feature = t.feature, threshold = t.threshold, left = t.left, right = t.right;
  let f = feature[node];
  while (f >= 0) {
    const v = x[off + f];
    // NaN fails every comparison, so it is only tested on the right-hand path.
    node = v < threshold[node] ? left[node] : v === v ? right[node] : t.defaultLeft[node] ? left[node] : right[node];
    f = feature[node];
  }
  return node;
}

/**
 * sklearn semantics: go left when x <= threshold (float64 threshold). For DecisionTree/forests/GradientBoosting the
 * caller casts x to float32 first (sklearn's DTYPE); HistGradientBoosting compares in float64. NaN follows the
 * node's missing direction (only HistGradientBoosting lets NaN through validation).
 */
export function leafLe(t: TreeArrays, node: number, x: Float64Array, off: number): number {
  const feature = t.feature, threshold = t.threshold, left = t.left, right = t.right;
  let f = feature[node];
  while (f >= 0) {
    const v = x[off + f];
    node = v <= threshold[node] ? left[node] : v === v ? right[node] : t.defaultLeft[node] ? left[node] : right[node];
    f = feature[node];
  }
  return node;
}
