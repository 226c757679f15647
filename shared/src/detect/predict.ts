/**
 * alibi-detect's prediction dictionaries (v0.11 `base.py` outlier_prediction_dict / concept_drift_dict) from our
 * detectors: `{"data": {...}, "meta": {name, detector_type, data_type, online, version}}`. The detector server
 * removes null score keys before replying, as alibi-detect-server does.
 */
import { readFileSync } from 'node:fs';
import type { DriftType } from './drift.js';
import type { Matrix } from './matrix.js';
import type { Detector } from './saved.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface Meta {
  name: string;
  detector_type: 'outlier' | 'drift';
  data_type: string | null;
  online: boolean;
  version: string;
}

export function metaOf(d: Detector): Meta {
  return { name: d.name, detector_type: d.kind, data_type: d.dataType, online: d.name === 'Mahalanobis', version: `modelfleet-${VERSION}` };
}

export interface OutlierOptions {
  returnInstanceScore?: boolean;
}

export interface OutlierResult {
  data: { instance_score: number[] | null; feature_score: null; is_outlier: number[] };
  meta: Meta;
}

export function predictOutlier(d: Extract<Detector, { kind: 'outlier' }>, x: Matrix, o: OutlierOptions = {}): OutlierResult {
  if (d.threshold === null) throw new Error(`the ${d.name} detector has no threshold (fit it with --threshold or --threshold-perc)`);
  const scores = d.impl.score(x);
  const t = d.threshold;
  return {
    data: {
      instance_score: o.returnInstanceScore === false ? null : Array.from(scores),
      feature_score: null,
      is_outlier: Array.from(scores, (s) => (s > t ? 1 : 0)),
    },
    meta: metaOf(d),
  };
}

export interface DriftOptions {
  driftType?: DriftType;
  returnPVal?: boolean;
  returnDistance?: boolean;
}

export function predictDrift(d: Extract<Detector, { kind: 'drift' }>, x: Matrix, o: DriftOptions = {}) {
  return { data: d.impl.predict(x, o), meta: metaOf(d) };
}
