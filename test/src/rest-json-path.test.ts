// The REST data path's own JSON code (issue 16 item 10, issue 22 item 3), checked against the platform's JSON:
// the numeric-list scanner must read every number exactly as JSON.parse / Number do (property-tested with
// fast-check over all doubles and their spellings), refuse what JSON refuses, and the streamed answer writer must
// write exactly the text JSON.stringify would. Whole-server behaviour is in large-body-memory.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scanNumericList, scanSeldonNdarray, DecodedArray } from '@modelfleet/shared/codecs/ndarray-scan';
import { jsonBody, JsonStream, numericJson, stringify } from '@modelfleet/shared/codecs/json-numbers';
import { parsePythonJson, parseStrictJson } from '@modelfleet/shared/codecs/json-text';
import type { Tensor } from '@modelfleet/shared';

const SEED = 22;

/** The numbers the scanner read from `data.ndarray` of `text`, or undefined when it left the body to JSON.parse. */
function scanned(text: string): number[] | undefined {
  const msg = scanSeldonNdarray(Buffer.from(text), parsePythonJson) as { data: { ndarray: unknown } } | undefined;
  if (!msg) return undefined;
  assert.ok(msg.data.ndarray instanceof DecodedArray);
  return Array.from(msg.data.ndarray.data);
}

// Every way a client may spell a double: JS's shortest form, Python's repr-like forms, fixed and exponent notations.
const spellings = (v: number): string[] => {
  const out = [String(v), v.toExponential(), v.toPrecision(17), v.toExponential(16).replace('e+', 'E')];
  if (Math.abs(v) < 1e21) out.push(v.toFixed(Math.min(20, Math.max(0, 20 - Math.floor(Math.log10(Math.abs(v) || 1)) - 2))));
  return out.filter((s) => !/[a-df-zA-DF-Z]/.test(s)); // finite spellings only
};

describe('numeric list scanner against JSON.parse', () => {
  test('every double, in every spelling, reads as JSON.parse reads it (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 24 }), fc.nat(), (values, pick) => {
        const texts = values.map((v) => {
          const s = spellings(v);
          return s[pick % s.length];
        });
        const text = `{"data":{"ndarray":[[${texts.join(',')}]]}}`;
        const expected = (JSON.parse(text) as { data: { ndarray: number[][] } }).data.ndarray[0];
        const got = scanned(text);
        assert.ok(got, `scanner refused ${text}`);
        for (let i = 0; i < expected.length; i++) assert.ok(Object.is(got[i], expected[i]), `${texts[i]}: scanner ${got[i]}, JSON.parse ${expected[i]}`);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test('digit strings of any length and exponent read as Number() reads them (fast-check)', () => {
    const digits = fc.stringMatching(/^[0-9]{1,30}$/).map((d) => d.replace(/^0+(?=\d)/, ''));
    fc.assert(
      fc.property(fc.boolean(), digits, fc.option(fc.stringMatching(/^[0-9]{1,25}$/)), fc.option(fc.integer({ min: -400, max: 400 })), (neg, int, frac, exp) => {
        const token = `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `e${exp}`}`;
        const got = scanned(`{"data":{"ndarray":[${token}]}}`);
        assert.ok(got, `scanner refused ${token}`);
        assert.ok(Object.is(got[0], JSON.parse(token)), `${token}: scanner ${got[0]}, JSON.parse ${JSON.parse(token)}`);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test('16-19 significant digits, next to the halfway points between doubles, read as Number() reads them', () => {
    // The double-double path (longDecimal) must give the correctly rounded double or step aside for Number(). The
    // hardest inputs are decimals within one unit of the last digit of a halfway point between two doubles: the exact
    // halfway value is computed with BigInt, cut to 16-19 digits, and nudged down and up by one unit.
    const bits = new BigUint64Array(1);
    const f = new Float64Array(bits.buffer);
    const rnd = fc.sample(fc.tuple(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), fc.integer({ min: 16, max: 19 })), { seed: SEED, numRuns: 4000 });
    const tokens: string[] = [];
    for (const [v, nd] of rnd) {
      if (v === 0) continue;
      f[0] = v;
      const e = Number((bits[0] >> 52n) & 0x7ffn) - 1075;
      const mant = (bits[0] & ((1n << 52n) - 1n)) | (1n << 52n);
      // (v + next(v)) / 2 = (2 mant + 1) * 2^(e-1), written as an integer over 10^k.
      const k = Math.max(0, 1 - e);
      const num = (2n * mant + 1n) * (k > 0 ? 5n ** BigInt(k) : 2n ** BigInt(e - 1));
      const text = num.toString();
      const point = text.length - k; // digits before the decimal point
      const head = BigInt(text.slice(0, nd));
      for (const d of [head - 1n, head, head + 1n]) tokens.push(`${d}e${point - nd}`);
      tokens.push(v.toPrecision(nd));
    }
    const got = scanned(`{"data":{"ndarray":[${tokens.join(',')}]}}`);
    assert.ok(got, 'scanner refused the list');
    for (let i = 0; i < tokens.length; i++) assert.ok(Object.is(got[i], Number(tokens[i])), `${tokens[i]}: scanner ${got[i]}, Number ${Number(tokens[i])}`);
  });

  test('what JSON refuses is left to the JSON parse (which answers the 400)', () => {
    for (const token of ['01', '-', '1.', '.5', '+1', '0x10', '1e', '1e+', '--1', 'true', '"1"', 'nan', 'Inf']) {
      assert.equal(scanned(`{"data":{"ndarray":[[1,${token}]]}}`), undefined, token);
    }
    // Python's literals are values on the Seldon protocol only; null is NaN everywhere (MLServer's convention).
    assert.deepEqual(scanned('{"data":{"ndarray":[[NaN,Infinity,-Infinity,null]]}}'), [NaN, Infinity, -Infinity, NaN]);
    const strict = (text: string) => scanNumericList(Buffer.from(text), 'instances', parseStrictJson, false, (m, marker, v) => {
      const o = m as { instances: unknown };
      if (o.instances !== marker) return false;
      o.instances = v;
      return true;
    });
    assert.equal(strict('{"instances":[[1,NaN]]}'), undefined);
    assert.ok(strict('{"instances":[[1,null]]}'));
  });

  test('ragged, empty and mixed lists, and the key inside a string, are left to the JSON parse', () => {
    for (const text of [
      '{"data":{"ndarray":[[1,2],[3]]}}',
      '{"data":{"ndarray":[[1,2],3]}}',
      '{"data":{"ndarray":[]}}',
      '{"data":{"ndarray":[[1,2],]}}',
      '{"data":{"names":["\\"ndarray\\":[1]"],"tensor":{"shape":[1],"values":[1]}}}',
      '{"meta":{"ndarray":[1,2]},"data":{"tensor":{"shape":[1],"values":[1]}}}',
    ]) {
      assert.equal(scanned(text), undefined, text);
    }
  });

  test('shapes come out as numpy would see them', () => {
    const msg = scanSeldonNdarray(Buffer.from('{"data":{"ndarray":[[[1,2,3],[4,5,6]],[[7,8,9],[10,11,12]]]},"meta":{"puid":"x"}}'), parsePythonJson) as {
      data: { ndarray: DecodedArray };
      meta: unknown;
    };
    assert.deepEqual(msg.data.ndarray.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(msg.data.ndarray.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(msg.meta, { puid: 'x' });
  });
});

/** Tensors of every numeric datatype and rank 1-4 (empty dimensions too), with NaN, -0 and infinities. */
const tensors = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 4 }), fc.constantFrom('FP64', 'FP32', 'INT64', 'INT32'))
  .chain(([shape, datatype]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values =
      datatype === 'FP64' || datatype === 'FP32'
        ? fc.array(fc.oneof(fc.double(), fc.constant(NaN), fc.constant(-0)), { minLength: n, maxLength: n })
        : fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: n, maxLength: n });
    return values.map((v): Tensor => {
      const data = datatype === 'FP64' ? Float64Array.from(v) : datatype === 'FP32' ? Float32Array.from(v) : datatype === 'INT32' ? Int32Array.from(v) : BigInt64Array.from(v, BigInt);
      return { name: 'y', datatype, shape, data };
    });
  });

describe('numeric answers', () => {
  // The nested lists of a tensor, as plain arrays (BigInt values as numbers: they are small here).
  const nestedOf = (t: Tensor): unknown => {
    const d = Array.from(t.data as ArrayLike<number | bigint>, Number);
    const walk = (depth: number, offset: number): unknown[] => {
      const stride = t.shape.slice(depth + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: t.shape[depth] }, (_, i) => (depth === t.shape.length - 1 ? d[offset + i] : walk(depth + 1, offset + i * stride)));
    };
    return t.shape.length ? walk(0, 0) : d;
  };

  test('the text is what JSON.stringify writes for the nested lists, non-finite values as null or as Python writes them (fast-check)', () => {
    fc.assert(
      fc.property(tensors, fc.boolean(), (t, python) => {
        const nested = nestedOf(t);
        const got = stringify({ v: numericJson(t, true, python), flat: numericJson(t, false, python) });
        const flat = Array.from(t.data as ArrayLike<number | bigint>, Number);
        if (!python) {
          assert.equal(got, JSON.stringify({ v: nested, flat }));
          return;
        }
        // Python's json.dumps spelling: the non-finite values as sentinels in JSON.stringify's text, then swapped.
        const mark = (x: unknown): unknown => (Array.isArray(x) ? x.map(mark) : Number.isFinite(x) ? x : `@${String(x)}@`);
        assert.equal(got, JSON.stringify({ v: mark(nested), flat: mark(flat) }).replace(/"@(NaN|-?Infinity)@"/g, '$1'));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('streamed answers', () => {
  test('the pieces of a streamed document join to exactly the one-string text (fast-check)', () => {
    fc.assert(
      fc.property(tensors, fc.boolean(), fc.boolean(), (t, nested, python) => {
        const doc = { data: { names: ['a'], ndarray: numericJson(t, nested, python) }, meta: { puid: 'p' }, flat: [numericJson(t, false, python)] };
        const one = stringify(doc);
        const streamed = jsonBody(doc, -1);
        assert.ok(streamed instanceof JsonStream);
        assert.equal(streamed.text(), one);
        JSON.parse(python ? one.replace(/-?Infinity|NaN/g, 'null') : one); // still JSON
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('a large answer is written in pieces, none of them the whole text', () => {
    const n = 200_000;
    const t: Tensor = { name: 'p', datatype: 'FP64', shape: [n, 3], data: Float64Array.from({ length: 3 * n }, (_, i) => Math.sin(i)) };
    const body = jsonBody({ data: { ndarray: numericJson(t, true, true) } });
    assert.ok(body instanceof JsonStream);
    const pieces = [...body.pieces()];
    const total = pieces.reduce((a, p) => a + p.length, 0);
    assert.ok(pieces.length > 100 && Math.max(...pieces.map((p) => p.length)) < total / 50, `${pieces.length} pieces of ${total} chars`);
    const parsed = JSON.parse(pieces.join('')) as { data: { ndarray: number[][] } };
    assert.equal(parsed.data.ndarray.length, n);
    assert.deepEqual(parsed.data.ndarray[n - 1], [Math.sin(3 * n - 3), Math.sin(3 * n - 2), Math.sin(3 * n - 1)]);
  });
});
