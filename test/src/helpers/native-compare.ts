import assert from 'node:assert/strict';
import type { NativeOutput } from '@modelfleet/shared/native/index';

/** An output as the Python side encodes it: float arrays as little-endian base64, labels as JSON lists. */
export type EncodedOutput = {
  datatype: string;
  shape: number[];
  data: { dtype: 'f8' | 'i4'; shape: number[]; b64: string } | (string | boolean)[];
};
export type EncodedArray = { dtype: 'f8' | 'i4'; shape: number[]; b64: string };

export function decodeF64(a: EncodedArray): Float64Array {
  const b = Buffer.from(a.b64, 'base64');
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/**
 * Asserts native == library output: same datatype and shape, labels equal, floats within `rtol` relative (with an
 * absolute floor of rtol * atolScale for values that cancel to ~0, e.g. decision scores at the boundary).
 */
export function assertOutputMatches(what: string, got: NativeOutput, want: EncodedOutput, rtol: number, atolScale = 1e-3): { exact: number; total: number } {
  assert.equal(got.datatype, want.datatype, `${what}: datatype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  if (Array.isArray(want.data)) {
    const g = Array.from(got.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? v.toString() : got.datatype === 'BOOL' ? Boolean(v) : v));
    assert.deepEqual(g, want.data, `${what}: labels`);
    return { exact: g.length, total: g.length };
  }
  const w = decodeF64(want.data);
  const g = got.data as Float32Array | Float64Array;
  assert.equal(g.length, w.length, `${what}: length`);
  let exact = 0;
  for (let i = 0; i < w.length; i++) {
    if (g[i] === w[i] || (g[i] !== g[i] && w[i] !== w[i])) {
      exact++;
      continue;
    }
    const err = Math.abs(g[i] - w[i]);
    assert.ok(err <= rtol * Math.abs(w[i]) + rtol * atolScale, `${what}[${i}]: native ${g[i]} vs library ${w[i]} (rel ${(err / Math.abs(w[i])).toExponential(2)})`);
  }
  return { exact, total: w.length };
}
