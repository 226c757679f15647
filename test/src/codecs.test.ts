// Codec edge cases that need no server: exactness of 64-bit integers and half floats on every path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tftensorToTensor } from '@modelfleet/shared/codecs/tftensor';
import { decodeRaw, encodeRaw } from '@modelfleet/shared/codecs/raw';
import { decodeV2Request } from '@modelfleet/shared/codecs/v2';
import { ndarrayToTensor } from '@modelfleet/shared/codecs/ndarray';

test('tftensor int64_val beyond 2^53 is read exactly', () => {
  const t = tftensorToTensor({ dtype: 'DT_INT64', tensorShape: { dim: [{ size: '2' }] }, int64Val: ['9007199254740993', '-5'] }, 'x');
  assert.deepEqual(Array.from(t.data as BigInt64Array), [9007199254740993n, -5n]);
});

test('FP16 raw bytes round-trip through the widened float32 form', () => {
  const values = [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8];
  const half = Buffer.alloc(values.length * 2);
  // IEEE half bit patterns of the values above
  [0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001].forEach((h, i) => half.writeUInt16LE(h, i * 2));
  const t = decodeRaw('x', 'FP16', [values.length], half);
  assert.deepEqual(Array.from(t.data as Float32Array), values.map((v) => Math.fround(v)));
  assert.deepEqual(Buffer.from(encodeRaw(t)), half);
});

test('V2 JSON: INT64 data must be integers, BOOL true/false, nested data flattened', () => {
  const r = decodeV2Request(Buffer.from(JSON.stringify({ inputs: [{ name: 'a', shape: [2, 2], datatype: 'INT64', data: [[1, 2], [3, 4]] }, { name: 'b', shape: [2], datatype: 'BOOL', data: [true, false] }] })));
  assert.deepEqual(Array.from(r.inputs[0].data as BigInt64Array), [1n, 2n, 3n, 4n]);
  assert.deepEqual(Array.from(r.inputs[1].data as Uint8Array), [1, 0]);
  assert.throws(() => decodeV2Request(Buffer.from(JSON.stringify({ inputs: [{ name: 'a', shape: [1], datatype: 'INT64', data: [1.5] }] }))), /INT64 value 1.5 is not an integer/);
});

test('ndarray: rows of numbers take the direct Float64Array path, everything else the general one, same answers', () => {
  const t = (v: unknown) => {
    try {
      const r = ndarrayToTensor(v, 'x');
      return [r.datatype, r.shape, Array.from(r.data as ArrayLike<unknown>, (x) => (typeof x === 'number' && Number.isNaN(x) ? 'NaN' : x))];
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert.deepEqual(t([[1, 2.5], [3, -4]]), ['FP64', [2, 2], [1, 2.5, 3, -4]]);
  assert.deepEqual(t([[1, null]]), ['FP64', [1, 2], [1, 'NaN']]);
  assert.deepEqual(t([[1, 'a']]), ['BYTES', [1, 2], ['1', 'a']]);
  assert.deepEqual(t([[true, false]]), ['BOOL', [1, 2], [1, 0]]);
  assert.deepEqual(t([[[1, 2]], [[3, 4]]]), ['FP64', [2, 1, 2], [1, 2, 3, 4]]);
  assert.deepEqual(t([1, 2, 3]), ['FP64', [3], [1, 2, 3]]);
  assert.match(String(t([[1, 2], [3]])), /not rectangular/);
  assert.match(String(t([[1, 2], 3])), /not rectangular/);
  assert.match(String(t([[1, {}]])), /elements must be numbers, strings or booleans/);
});
