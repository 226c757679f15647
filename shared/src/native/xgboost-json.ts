import { toShared } from './arrays.js';
import { UnsupportedModelError } from './errors.js';
import { buildTreeArrays, type TreeInput } from './trees.js';
import { XGBoostModel, type XGBoostMeta } from './xgboost-model.js';
import { objectiveSpec } from './xgboost-objective.js';

/** The parsed document: JSON gives numbers/strings/arrays, UBJSON may give typed arrays. */
type Doc = { [k: string]: unknown };

function obj(v: unknown, where: string): Doc {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new Error(`XGBoost model: '${where}' is missing or not an object`);
  }
  return v as Doc;
}

function nums(v: unknown, where: string): ArrayLike<number> {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return v as ArrayLike<number>;
  throw new Error(`XGBoost model: '${where}' is missing or not an array`);
}

/** Parameters are stored as strings ("5E-1"), sometimes as numbers. */
function num(v: unknown, where: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new Error(`XGBoost model: '${where}' is not a number (${String(v)})`);
  return n;
}

/** The scikit-learn wrapper's metadata attribute; Python's json.dumps writes NaN for `missing`. */
function sklearnAttribute(attrs: Doc): Doc | null {
  const s = attrs.scikit_learn;
  if (typeof s !== 'string') return null;
  return JSON.parse(s.replace(/\bNaN\b|-?\bInfinity\b/g, 'null')) as Doc;
}

/** Builds a native model from XGBoost's documented JSON model schema (also what the UBJSON form decodes to). */
export function xgboostFromDocument(doc: unknown): XGBoostModel {
  const learner = obj(obj(doc, 'root').learner, 'learner');
  const mp = obj(learner.learner_model_param, 'learner.learner_model_param');
  const objective = String(obj(learner.objective, 'learner.objective').name);
  const spec = objectiveSpec(objective);
  const nFeatures = num(mp.num_feature, 'num_feature');
  const numClass = num(mp.num_class ?? 0, 'num_class');
  const numTarget = num(mp.num_target ?? 1, 'num_target');
  const nGroups = Math.max(numClass, numTarget, 1);
  const featureTypes = learner.feature_types;
  if (Array.isArray(featureTypes) && featureTypes.includes('c')) throw new UnsupportedModelError('categorical features (XGBoost feature_types "c")');

  const attrs = learner.attributes ? obj(learner.attributes, 'learner.attributes') : {};
  const sk = sklearnAttribute(attrs);
  if (sk && sk._le !== undefined && sk._le !== null) throw new UnsupportedModelError('the label encoder (_le) of pre-1.6 XGBClassifier models');
  const estimatorType = sk?._estimator_type === 'classifier' || (!sk && spec.classifier) ? 'classifier' : 'regressor';
  const nClasses = typeof sk?.n_classes_ === 'number' ? sk.n_classes_ : Math.max(numClass, 2);

  const gb = obj(learner.gradient_booster, 'learner.gradient_booster');
  const boosterName = String(gb.name);
  const meta: XGBoostMeta = {
    objective,
    booster: boosterName as XGBoostMeta['booster'],
    nFeatures,
    nGroups,
    baseScore: Math.fround(num(mp.base_score, 'base_score')),
    layerSize: nGroups,
    bestIteration: attrs.best_iteration !== undefined ? num(attrs.best_iteration, 'best_iteration') : null,
    estimatorType,
    nClasses,
  };

  if (boosterName === 'gblinear') {
    const w = nums(obj(gb.model, 'gradient_booster.model').weights, 'gblinear weights');
    if (w.length !== (nFeatures + 1) * nGroups) throw new Error(`XGBoost model: gblinear has ${w.length} weights, expected ${(nFeatures + 1) * nGroups}`);
    return new XGBoostModel(meta, null, toShared(Float32Array.from(w)));
  }
  let model: Doc;
  let weights: ArrayLike<number> | null = null;
  if (boosterName === 'gbtree') {
    model = obj(gb.model, 'gradient_booster.model');
  } else if (boosterName === 'dart') {
    model = obj(obj(gb.gbtree, 'gradient_booster.gbtree').model, 'gradient_booster.gbtree.model');
    weights = nums(gb.weight_drop, 'weight_drop');
  } else {
    throw new UnsupportedModelError(`the XGBoost booster '${boosterName}'`);
  }
  const param = obj(model.gbtree_model_param, 'gbtree_model_param');
  meta.layerSize = nGroups * Math.max(1, num(param.num_parallel_tree ?? 1, 'num_parallel_tree'));
  const trees = model.trees as unknown[];
  const info = nums(model.tree_info, 'tree_info');
  if (!Array.isArray(trees) || trees.length !== info.length) throw new Error('XGBoost model: trees and tree_info differ in length');
  if (weights && weights.length !== trees.length) throw new Error('XGBoost model: weight_drop and trees differ in length');

  const inputs: TreeInput[] = trees.map((raw, i) => {
    const t = obj(raw, `trees[${i}]`);
    const tp = obj(t.tree_param, `trees[${i}].tree_param`);
    if (num(tp.size_leaf_vector ?? 0, 'size_leaf_vector') > 0) throw new UnsupportedModelError('vector-leaf (multi-target) trees');
    const splitType = t.split_type === undefined ? [] : nums(t.split_type, 'split_type');
    for (let k = 0; k < splitType.length; k++) if (splitType[k] !== 0) throw new UnsupportedModelError('categorical splits (XGBoost enable_categorical)');
    const cond = nums(t.split_conditions, 'split_conditions');
    const group = info[i];
    if (group < 0 || group >= nGroups) throw new Error(`XGBoost model: tree ${i} has group ${group}, model has ${nGroups}`);
    return {
      feature: nums(t.split_indices, 'split_indices'),
      threshold: Float32Array.from(cond),
      left: nums(t.left_children, 'left_children'),
      right: nums(t.right_children, 'right_children'),
      defaultLeft: nums(t.default_left, 'default_left'),
      value: Float32Array.from(cond), // a leaf's value is stored in its split_conditions slot
      cover: t.sum_hessian === undefined ? undefined : Float32Array.from(nums(t.sum_hessian, 'sum_hessian')),
      group,
      weight: weights ? Math.fround(weights[i]) : 1,
    };
  });
  for (const t of inputs) {
    for (let k = 0; k < t.feature.length; k++) {
      if (t.left[k] >= 0 && (t.feature[k] >= nFeatures || t.feature[k] < 0)) throw new Error(`XGBoost model: split on feature ${t.feature[k]} of ${nFeatures}`);
    }
  }
  return new XGBoostModel(meta, buildTreeArrays(inputs, 1), null);
}
