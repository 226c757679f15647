// Explainer pieces on their own: sampled KernelSHAP (above the exact-enumeration limit) against the closed form a
// linear model has, background files written by numpy itself, and the importance ranking of the Explanation JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelShap } from '@modelfleet/shared/explain/kernel-shap';
import { loadBackground } from '@modelfleet/shared/explain/background';
import { rankByImportance, shapExplanation } from '@modelfleet/shared/explain/explanation';
import { pythonJson } from './helpers/python.js';

test('sampled KernelSHAP (30 features) recovers w * (x - E x) of a linear model exactly, deterministic per seed', async () => {
  const M = 30, B = 20;
  const w = Float64Array.from({ length: M }, (_, j) => Math.sin(j + 1) * (j % 3 === 0 ? 0 : 1)); // some features unused
  const bg = Float64Array.from({ length: B * M }, (_, i) => Math.cos(i * 0.37) * 3);
  let calls = 0;
  const predict = async (X: Float64Array, n: number) => {
    calls++;
    const out = new Float64Array(n * 2);
    for (let r = 0; r < n; r++) {
      let s = 0.5;
      for (let j = 0; j < M; j++) s += w[j] * X[r * M + j];
      out[2 * r] = s;
      out[2 * r + 1] = -2 * s;
    }
    return { data: out, width: 2 };
  };
  const ks = new KernelShap(bg, B, M, predict, { link: 'identity', maxExactFeatures: 12, batchRows: 4096, seed: 3 });
  const x = Float64Array.from({ length: 2 * M }, (_, i) => (i % 7) - 3);
  const r = await ks.explain(x, 2, 400);
  assert.equal(r.exact, false);
  const mean = new Float64Array(M);
  for (let b = 0; b < B; b++) for (let j = 0; j < M; j++) mean[j] += bg[b * M + j] / B;
  for (let row = 0; row < 2; row++) {
    for (let j = 0; j < M; j++) {
      const want = w[j] * (x[row * M + j] - mean[j]);
      assert.ok(Math.abs(r.values[0][row * M + j] - want) < 1e-8, `feature ${j}: ${r.values[0][row * M + j]} vs ${want}`);
      assert.ok(Math.abs(r.values[1][row * M + j] + 2 * want) < 1e-8);
    }
  }
  assert.ok(calls > 2, 'perturbed rows go to the model in batches');
  const again = await ks.explain(x, 2, 400);
  assert.deepEqual(again.values, r.values);
  // Efficiency: the values add up to f(x) - E f(x).
  let s = r.expected[0];
  for (let j = 0; j < M; j++) s += r.values[0][j];
  assert.ok(Math.abs(s - r.prediction[0]) < 1e-9);
});

test('background data: .npy (float64/float32/int64) written by numpy, CSV with a header and empty cells', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'explain-bg-'));
  try {
    const want = await pythonJson<number[][]>(
      String.raw`
import sys, os, json, numpy as np
d = sys.argv[1]
X = np.arange(12, dtype=float).reshape(4, 3) / 4
np.save(os.path.join(d, "f8.npy"), X); np.save(os.path.join(d, "f4.npy"), X.astype(np.float32))
np.save(os.path.join(d, "i8.npy"), (X * 4).astype(np.int64))
print(json.dumps(X.tolist()))
`,
      ['numpy'],
      [dir],
    );
    for (const [f, scale] of [['f8.npy', 1], ['f4.npy', 1], ['i8.npy', 4]] as const) {
      const bg = loadBackground(path.join(dir, f));
      assert.equal(bg.nRows, 4);
      assert.equal(bg.nFeatures, 3);
      assert.deepEqual(Array.from(bg.X), want.flat().map((v) => v * scale), f);
    }
    const csvDir = mkdtempSync(path.join(os.tmpdir(), 'explain-csv-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(csvDir, 'train.csv'), 'a,b,"c"\n1,2,3\n4,,6\n');
    const csv = loadBackground(csvDir);
    assert.deepEqual(csv.names, ['a', 'b', 'c']);
    assert.equal(csv.nRows, 2);
    assert.ok(Number.isNaN(csv.X[4]));
    writeFileSync(path.join(csvDir, 'train.csv'), '1,2\n3,x\n');
    assert.throws(() => loadBackground(csvDir), /'x' is not a number/);
    rmSync(csvDir, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Explanation JSON: importances ranked by mean |phi| per output and aggregated; names default to feature_i', () => {
  const values = [Float64Array.from([1, -3, 0.5, 1, 1, 0.5]), Float64Array.from([0, 0, 4, 0, 0, -4])];
  const imp = rankByImportance(values, 2, 3, ['a', 'b', 'c']);
  assert.deepEqual(imp['0'].names, ['b', 'a', 'c']);
  assert.deepEqual(imp['0'].ranked_effect, [2, 1, 0.5]);
  assert.deepEqual(imp['1'].names[0], 'c');
  assert.deepEqual(imp.aggregated.names, ['c', 'b', 'a']);
  const e = shapExplanation({
    name: 'KernelShap',
    whitebox: false,
    task: 'classification',
    params: {},
    values,
    expected: [0.2, 0.8],
    nRows: 2,
    nFeatures: 3,
    instances: new Float64Array(6),
    rawPrediction: Float64Array.from([0.9, 0.1, 0.3, 0.7]),
  });
  assert.deepEqual(e.data.feature_names, ['feature_0', 'feature_1', 'feature_2']);
  assert.deepEqual((e.data.raw as { prediction: number[] }).prediction, [0, 1]);
  assert.deepEqual(e.data.shap_values, [
    [[1, -3, 0.5], [1, 1, 0.5]],
    [[0, 0, 4], [0, 0, -4]],
  ]);
});
