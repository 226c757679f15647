/**
 * Alibi's Explanation JSON (alibi 0.9.4 api/interfaces.py, api/defaults.py, shap_wrappers.py): `{meta, data}` with
 * numpy arrays as lists, so dashboards and clients written for Alibi parse our answers unchanged.
 */

/** What alibi reports as its version in meta.version: ours says which implementation answered instead. */
export const EXPLAINER_VERSION = 'modelfleet-0.1.0';

export interface Explanation {
  meta: {
    name: string;
    type: string[];
    explanations: string[];
    params: Record<string, unknown>;
    version: string;
    task?: 'classification' | 'regression';
  };
  data: Record<string, unknown>;
}

export interface ShapInput {
  name: 'KernelShap' | 'TreeShap' | 'LinearShap';
  whitebox: boolean;
  task: 'classification' | 'regression';
  params: Record<string, unknown>;
  /** Per output: nRows x nFeatures row-major. */
  values: Float64Array[];
  expected: ArrayLike<number>;
  nRows: number;
  nFeatures: number;
  featureNames?: string[];
  /** The explained rows, nRows x nFeatures. */
  instances: Float64Array;
  /** The explained model output (in the explained space) per row, nRows x outputs. */
  rawPrediction: Float64Array;
  /** TreeShap with interactions: per output nRows x nFeatures x nFeatures. */
  interactions?: Float64Array[];
}

/** Feature names as alibi validates them: missing or the wrong count → feature_0, feature_1, … */
export function featureNames(n: number, names?: string[]): string[] {
  return names && names.length === n ? names : Array.from({ length: n }, (_, i) => `feature_${i}`);
}

function rows(a: ArrayLike<number>, nRows: number, width: number): number[][] {
  return Array.from({ length: nRows }, (_, r) => Array.from({ length: width }, (_, j) => a[r * width + j]));
}

/** shap_wrappers.rank_by_importance: per output mean |φ| ranked, plus "aggregated" over the outputs' sum. */
export function rankByImportance(values: Float64Array[], nRows: number, nFeatures: number, names: string[]): Record<string, { ranked_effect: number[]; names: string[] }> {
  const out: Record<string, { ranked_effect: number[]; names: string[] }> = {};
  const total = new Float64Array(nFeatures);
  const rank = (effect: Float64Array) => {
    const order = Array.from(effect.keys()).sort((a, b) => effect[b] - effect[a]);
    return { ranked_effect: order.map((i) => effect[i]), names: order.map((i) => names[i]) };
  };
  values.forEach((v, k) => {
    const effect = new Float64Array(nFeatures);
    for (let r = 0; r < nRows; r++) for (let j = 0; j < nFeatures; j++) effect[j] += Math.abs(v[r * nFeatures + j]) / nRows;
    for (let j = 0; j < nFeatures; j++) total[j] += effect[j];
    out[String(k)] = rank(effect);
  });
  out.aggregated = rank(total);
  return out;
}

/** KernelShap / TreeShap explanation: `shap_values` one [rows][features] array per output, `expected_value` per output. */
export function shapExplanation(s: ShapInput): Explanation {
  const names = featureNames(s.nFeatures, s.featureNames);
  const K = s.values.length;
  const raw = rows(s.rawPrediction, s.nRows, K);
  const prediction = s.task === 'classification' ? raw.map((r) => (r.length === 1 ? (r[0] > 0 ? 1 : 0) : r.indexOf(Math.max(...r)))) : [];
  const data: Record<string, unknown> = {
    shap_values: s.values.map((v) => rows(v, s.nRows, s.nFeatures)),
    expected_value: Array.from(s.expected),
    categorical_names: {},
    feature_names: names,
    raw: {
      raw_prediction: raw,
      prediction,
      instances: rows(s.instances, s.nRows, s.nFeatures),
      importances: rankByImportance(s.values, s.nRows, s.nFeatures, names),
    },
  };
  if (s.name === 'TreeShap') {
    const M = s.nFeatures;
    data.shap_interaction_values = s.interactions
      ? s.interactions.map((v) => Array.from({ length: s.nRows }, (_, r) => rows(v.subarray(r * M * M, (r + 1) * M * M), M, M)))
      : [];
    Object.assign(data.raw as object, { loss: null, labels: null });
  }
  return {
    meta: {
      name: s.name,
      type: [s.whitebox ? 'whitebox' : 'blackbox'],
      task: s.task,
      explanations: ['local', 'global'],
      params: s.params,
      version: EXPLAINER_VERSION,
    },
    data,
  };
}
