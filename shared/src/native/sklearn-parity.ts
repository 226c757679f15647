import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findPython } from '../python/interpreter.js';
import type { NativeModel, NativeOutput } from './types.js';

const run = promisify(execFile);
const EXPORTER = fileURLToPath(new URL('../../python/modelfleet_sklearn_export.py', import.meta.url));

type EncodedArray = { dtype: 'f8' | 'i4'; shape: number[]; b64: string };
export type EncodedOutput = { datatype: string; shape: number[]; data: EncodedArray | (string | boolean)[] };
export interface SklearnProbe {
  X: EncodedArray;
  n_rows: number;
  outputs: Record<string, EncodedOutput>;
}
export type SklearnExportResult = ({ export: unknown; probe: SklearnProbe } | { unsupported: string }) & {
  /** Set when run as a script on a file: the estimator's class, the interpreter's sklearn, unpickling warnings. */
  estimator?: string;
  sklearn_version?: string;
  load_warnings?: string[];
  /** feature_names_in_: the column order the estimator was fitted with, when fitted on a DataFrame. */
  feature_names?: string[] | null;
};

/**
 * Loads a joblib/pickle file with Python once and returns the estimator's export plus a probe batch with sklearn's own
 * outputs on it (modelfleet_sklearn_export.parity_payload), or the reason the native engine cannot take it.
 * `ranges` ([low, high] per feature) steers the probe's random rows when the training ranges are known.
 */
export async function exportSklearnFile(path: string, opts: { pythonBin?: string; ranges?: [number, number][] } = {}): Promise<SklearnExportResult> {
  const bin = opts.pythonBin ?? (await findPython(['sklearn', 'numpy'])).bin;
  const args = [EXPORTER, path, ...(opts.ranges ? [JSON.stringify(opts.ranges)] : [])];
  const { stdout } = await run(bin, args, { maxBuffer: 1024 * 1024 * 1024, timeout: 300_000 });
  return JSON.parse(stdout) as SklearnExportResult;
}

export interface ParityReport {
  ok: boolean;
  /** One line per output that differs, e.g. "predict_proba[12]: native 0.25 vs sklearn 0.2500001". */
  problems: string[];
  maxRelError: number;
}

function f64(a: EncodedArray): Float64Array {
  const b = Buffer.from(a.b64, 'base64');
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** Runs the probe natively and compares with sklearn's outputs: labels exactly, floats within `rtol` relative. */
export function checkParity(model: NativeModel, probe: SklearnProbe, rtol = 1e-9): ParityReport {
  const problems: string[] = [];
  let maxRelError = 0;
  const X = f64(probe.X);
  for (const [name, want] of Object.entries(probe.outputs)) {
    let got: NativeOutput;
    try {
      got = model.run(X, probe.n_rows, name);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (got.datatype !== want.datatype || got.shape.join() !== want.shape.join()) {
      problems.push(`${name}: native ${got.datatype}[${got.shape}] vs sklearn ${want.datatype}[${want.shape}]`);
      continue;
    }
    if (Array.isArray(want.data)) {
      const labels = want.data;
      const g = Array.from(got.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? v.toString() : got.datatype === 'BOOL' ? Boolean(v) : v));
      const i = g.findIndex((v, k) => v !== labels[k]);
      if (i >= 0) problems.push(`${name}[${i}]: native ${String(g[i])} vs sklearn ${String(labels[i])}`);
      continue;
    }
    const w = f64(want.data);
    const g = got.data as Float64Array;
    for (let i = 0; i < w.length; i++) {
      if (g[i] === w[i] || (g[i] !== g[i] && w[i] !== w[i])) continue;
      const rel = Math.abs(g[i] - w[i]) / Math.max(Math.abs(w[i]), 1e-300);
      maxRelError = Math.max(maxRelError, rel);
      if (Math.abs(g[i] - w[i]) > rtol * Math.abs(w[i]) + rtol * 1e-3) {
        problems.push(`${name}[${i}]: native ${g[i]} vs sklearn ${w[i]}`);
        break;
      }
    }
  }
  return { ok: problems.length === 0, problems, maxRelError };
}
