/**
 * The saved detector: one JSON file, `detector.json`, written by `modelfleet detector fit` and read by the
 * detector server (from a folder or any storage-init URI). Arrays are little-endian float64 base64 (exact).
 *
 *   {"format": "modelfleet-detector/1", "name": "KSDrift" | "ChiSquareDrift" | "TabularDrift" | "Mahalanobis" | "IForest",
 *    "data_type": "tabular" | null, "params": {...}, "state": {...}}
 *
 * drift params: p_val, correction, alternative, categories_per_feature ({"<column>": null | [values]}); state: x_ref.
 * Mahalanobis params: threshold, n_components, std_clip, start_clip, max_n; state: mean, C, n, clip (null before use).
 * IForest params: threshold; state: model (the modelfleet-iforest/1 export of the fitted sklearn IsolationForest).
 */
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { UnivariateDrift, type Correction, type DriftName } from './drift.js';
import { IsolationForestScorer, type IForestExport } from './iforest.js';
import { Mahalanobis } from './mahalanobis.js';
import { decodeArray, encodeArray, type EncodedArray } from './matrix.js';
import type { Alternative } from './stats/ks.js';

export const DETECTOR_FORMAT = 'modelfleet-detector/1';
export const DETECTOR_FILE = 'detector.json';

export type Detector =
  | { kind: 'drift'; name: DriftName; dataType: string | null; impl: UnivariateDrift }
  | { kind: 'outlier'; name: 'Mahalanobis'; dataType: string | null; threshold: number | null; impl: Mahalanobis }
  | { kind: 'outlier'; name: 'IForest'; dataType: string | null; threshold: number | null; impl: IsolationForestScorer };

export const DETECTOR_NAMES = ['KSDrift', 'ChiSquareDrift', 'TabularDrift', 'Mahalanobis', 'IForest'] as const;

type Rec = Record<string, unknown>;

export function detectorToJSON(d: Detector): Rec {
  const base = { format: DETECTOR_FORMAT, name: d.name, data_type: d.dataType };
  if (d.kind === 'drift') {
    const o = d.impl.options;
    const cats: Record<string, number[] | null> = {};
    for (const [f, v] of o.categories) cats[String(f)] = v;
    return {
      ...base,
      params: { p_val: o.pVal, correction: o.correction, alternative: o.alternative, categories_per_feature: cats },
      state: { x_ref: encodeArray(d.impl.reference.data, [d.impl.reference.rows, d.impl.reference.cols]) },
    };
  }
  if (d.name === 'Mahalanobis') {
    const p = d.impl.params, s = d.impl.state, k = d.impl.nFeatures;
    return {
      ...base,
      params: { threshold: d.threshold, n_components: p.nComponents, std_clip: p.stdClip, start_clip: p.startClip, max_n: p.maxN, n_features: k },
      state: {
        n: s.n,
        mean: s.mean ? encodeArray(s.mean, [k]) : null,
        C: s.cov ? encodeArray(s.cov, [k, k]) : null,
        clip: s.clip ? [encodeArray(s.clip[0], [k]), encodeArray(s.clip[1], [k])] : null,
      },
    };
  }
  return { ...base, params: { threshold: d.threshold }, state: { model: d.impl.exported } };
}

export function saveDetector(d: Detector, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, DETECTOR_FILE);
  writeFileSync(file, JSON.stringify(detectorToJSON(d)));
  return file;
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} must be a number`);
  return v;
};
const numOrNull = (v: unknown, what: string): number | null => (v === null || v === undefined ? null : num(v, what));

export function detectorFromJSON(j: Rec): Detector {
  if (!j || j.format !== DETECTOR_FORMAT) throw new Error(`not a ${DETECTOR_FORMAT} file (format ${String(j?.format)})`);
  const name = j.name as string;
  const params = (j.params ?? {}) as Rec, state = (j.state ?? {}) as Rec;
  const dataType = (j.data_type as string | null) ?? null;
  if (name === 'KSDrift' || name === 'ChiSquareDrift' || name === 'TabularDrift') {
    const x = state.x_ref as EncodedArray;
    const data = decodeArray(x, 'x_ref');
    if (x.shape.length !== 2) throw new Error('x_ref must be 2-d');
    const categories = new Map<number, number[] | null>();
    for (const [k, v] of Object.entries((params.categories_per_feature ?? {}) as Rec)) categories.set(Number(k), (v as number[] | null) ?? null);
    const correction = (params.correction ?? 'bonferroni') as Correction;
    if (correction !== 'bonferroni' && correction !== 'fdr') throw new Error(`correction must be bonferroni or fdr, got ${String(correction)}`);
    const alternative = (params.alternative ?? 'two-sided') as Alternative;
    if (!['two-sided', 'less', 'greater'].includes(alternative)) throw new Error(`alternative must be two-sided, less or greater, got ${String(alternative)}`);
    const impl = new UnivariateDrift(name, { data, rows: x.shape[0], cols: x.shape[1] }, {
      pVal: num(params.p_val ?? 0.05, 'p_val'),
      correction,
      alternative,
      categories,
    });
    return { kind: 'drift', name, dataType, impl };
  }
  if (name === 'Mahalanobis') {
    const k = num(params.n_features, 'n_features');
    const clip = state.clip as EncodedArray[] | null;
    const impl = new Mahalanobis(
      {
        nComponents: num(params.n_components ?? 3, 'n_components'),
        stdClip: num(params.std_clip ?? 3, 'std_clip'),
        startClip: num(params.start_clip ?? 100, 'start_clip'),
        maxN: numOrNull(params.max_n, 'max_n'),
      },
      {
        n: num(state.n ?? 0, 'n'),
        mean: state.mean ? decodeArray(state.mean as EncodedArray, 'mean') : null,
        cov: state.C ? decodeArray(state.C as EncodedArray, 'C') : null,
        clip: clip ? [decodeArray(clip[0], 'clip'), decodeArray(clip[1], 'clip')] : null,
      },
      k,
    );
    return { kind: 'outlier', name, dataType, threshold: numOrNull(params.threshold, 'threshold'), impl };
  }
  if (name === 'IForest') {
    const exported = state.model as IForestExport;
    const impl = new IsolationForestScorer(exported);
    return { kind: 'outlier', name, dataType, threshold: numOrNull(params.threshold, 'threshold'), impl };
  }
  throw new Error(`unknown detector "${name}" (one of ${DETECTOR_NAMES.join(', ')})`);
}

/** Reads `detector.json` from a folder (or the file itself). */
export function loadDetectorFile(where: string): Detector {
  const file = statSync(where).isDirectory() ? path.join(where, DETECTOR_FILE) : where;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the saved detector ${file}: ${(err as Error).message}`);
  }
  return detectorFromJSON(JSON.parse(text) as Rec);
}
