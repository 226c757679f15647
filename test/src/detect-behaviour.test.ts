// What the drift test means statistically, on seeded data (a fixed-seed generator, so the counts are the same
// every run): under no drift, KSDrift with Bonferroni at p_val 0.05 flags at most about the nominal rate;
// a 1-standard-deviation mean shift in one feature is caught in nearly every batch of 100.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitDetector } from '@modelfleet/shared/detect/fit';
import { predictDrift } from '@modelfleet/shared/detect/predict';
import type { Matrix } from '@modelfleet/shared/detect/matrix';

/** mulberry32 + Box-Muller: seeded standard normals. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function sample(rnd: () => number, rows: number, cols: number, shiftCol = -1, shift = 0): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = rnd() + (i % cols === shiftCol ? shift : 0);
  return { data, rows, cols };
}

test('KSDrift (bonferroni, p_val 0.05): false alarms at most the nominal rate over 200 null batches; a 1-sd shift caught in >= 95% of batches of 100', { timeout: 300_000 }, async (t) => {
  const rnd = normals(20261207);
  const cols = 5;
  const det = await fitDetector('KSDrift', sample(rnd, 1000, cols));
  if (det.kind !== 'drift') throw new Error('not a drift detector');
  let falseAlarms = 0, caught = 0;
  for (let b = 0; b < 200; b++) falseAlarms += predictDrift(det, sample(rnd, 100, cols)).data.is_drift as number;
  for (let b = 0; b < 200; b++) caught += predictDrift(det, sample(rnd, 100, cols, 2, 1)).data.is_drift as number;
  // Nominal 5% of 200 = 10, binomial sd ~3.1: allow 10 + 2 sd. Bonferroni is conservative, so fewer is expected.
  t.diagnostic(`null batches flagged: ${falseAlarms}/200; shifted batches flagged: ${caught}/200`);
  assert.ok(falseAlarms <= 16, `${falseAlarms} of 200 null batches flagged`);
  assert.ok(caught >= 190, `${caught} of 200 shifted batches flagged`);
  // fdr, feature-level: only the shifted feature is flagged in most batches.
  const feat = predictDrift(det, sample(rnd, 100, cols, 2, 1), { driftType: 'feature' }).data.is_drift as number[];
  assert.equal(feat[2], 1);
});
