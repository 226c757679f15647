/**
 * Fitting detectors: what alibi-detect's constructors and `infer_threshold` do, producing a saved detector.
 * Drift detectors keep the reference data; Mahalanobis is fed the data once (its online state) and its threshold
 * is the given value or that percentile of the scores it gave; IForest trains scikit-learn's IsolationForest with
 * alibi-detect's arguments in Python (or takes a fitted one) and exports it for native scoring.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython } from '../python/interpreter.js';
import { UnivariateDrift, type Correction, type DriftName } from './drift.js';
import { IsolationForestScorer, type IForestExport } from './iforest.js';
import { Mahalanobis } from './mahalanobis.js';
import { percentile, type Matrix } from './matrix.js';
import type { Detector } from './saved.js';
import type { Alternative } from './stats/ks.js';

export interface FitOptions {
  pVal?: number;
  correction?: Correction;
  alternative?: Alternative;
  /** alibi-detect's categories_per_feature: column -> null (infer) | N (0..N-1) | list of values. */
  categoriesPerFeature?: Record<string, number | number[] | null>;
  threshold?: number;
  thresholdPerc?: number;
  nComponents?: number;
  stdClip?: number;
  startClip?: number;
  maxN?: number | null;
  nEstimators?: number;
  seed?: number;
  /** IForest: a fitted sklearn IsolationForest (joblib/pickle) instead of training one. */
  model?: string;
  dataType?: string | null;
}

function categories(spec: FitOptions['categoriesPerFeature'], all: number | null): Map<number, number[] | null> {
  const m = new Map<number, number[] | null>();
  if (all !== null && !spec) for (let f = 0; f < all; f++) m.set(f, null);
  for (const [k, v] of Object.entries(spec ?? {})) {
    const f = Number(k);
    if (!Number.isInteger(f)) throw new Error(`categories_per_feature key "${k}" is not a column index`);
    m.set(f, v === null ? null : typeof v === 'number' ? Array.from({ length: v }, (_, i) => i) : v);
  }
  return m;
}

export async function fitDetector(type: string, x: Matrix, o: FitOptions = {}): Promise<Detector> {
  for (const v of x.data) if (!Number.isFinite(v)) throw new Error('the reference data has a value that is not a finite number');
  const dataType = o.dataType === undefined ? (type === 'Mahalanobis' ? 'tabular' : null) : o.dataType;
  if (type === 'KSDrift' || type === 'ChiSquareDrift' || type === 'TabularDrift') {
    const cats = type === 'KSDrift' ? new Map() : categories(o.categoriesPerFeature, type === 'ChiSquareDrift' ? x.cols : null);
    const impl = new UnivariateDrift(type as DriftName, x, {
      pVal: o.pVal ?? 0.05,
      correction: o.correction ?? 'bonferroni',
      alternative: o.alternative ?? 'two-sided',
      categories: cats,
    });
    return { kind: 'drift', name: type as DriftName, dataType, impl };
  }
  if (type === 'Mahalanobis') {
    const impl = Mahalanobis.fresh({ nComponents: o.nComponents ?? 3, stdClip: o.stdClip ?? 3, startClip: o.startClip ?? 100, maxN: o.maxN ?? null }, x.cols);
    const scores = impl.score(x);
    return { kind: 'outlier', name: 'Mahalanobis', dataType, threshold: o.threshold ?? percentile(scores, o.thresholdPerc ?? 95), impl };
  }
  if (type === 'IForest') {
    const exported = await exportIsolationForest(x, o);
    const impl = new IsolationForestScorer(exported);
    return { kind: 'outlier', name: 'IForest', dataType, threshold: o.threshold ?? percentile(impl.score(x), o.thresholdPerc ?? 95), impl };
  }
  throw new Error(`unknown detector type "${type}" (KSDrift, ChiSquareDrift, TabularDrift, Mahalanobis, IForest)`);
}

const PY_DIR = fileURLToPath(new URL('../../python', import.meta.url));

const TRAIN_IFOREST = String.raw`
import sys, json
sys.path.insert(0, sys.argv[1])
import numpy as np
from modelfleet_iforest_export import export_isolation_forest
from modelfleet_sklearn_export import _load
if sys.argv[2] == 'model':
    est = _load(sys.argv[3])
else:
    from sklearn.ensemble import IsolationForest
    X = np.load(sys.argv[3])
    # alibi-detect's IForest defaults.
    est = IsolationForest(n_estimators=int(sys.argv[4]), max_samples='auto', max_features=1.0, bootstrap=False, n_jobs=1,
                          random_state=None if sys.argv[5] == 'none' else int(sys.argv[5])).fit(X)
json.dump(export_isolation_forest(est), sys.stdout)
`;

async function exportIsolationForest(x: Matrix, o: FitOptions): Promise<IForestExport> {
  const py = await findPython(['sklearn', 'numpy']);
  const dir = mkdtempSync(path.join(tmpdir(), 'modelfleet-iforest-'));
  try {
    let args: string[];
    if (o.model) args = ['model', path.resolve(o.model)];
    else {
      const npy = path.join(dir, 'x.npy');
      writeFileSync(npy, toNpy(x));
      args = ['train', npy, String(o.nEstimators ?? 100), o.seed === undefined ? 'none' : String(o.seed)];
    }
    const { stdout } = await promisify(execFile)(py.bin, ['-c', TRAIN_IFOREST, PY_DIR, ...args], { maxBuffer: 1 << 30 });
    return JSON.parse(stdout) as IForestExport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A float64 .npy (version 1.0) of the matrix. */
export function toNpy(x: Matrix): Buffer {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${x.rows}, ${x.cols}), }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)]);
}
