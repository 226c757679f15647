/**
 * Fast JSON for numeric tensors. Response bodies are mostly numbers, and building nested JS arrays for
 * JSON.stringify to walk costs twice what writing the text straight from the typed array does (3000 float64:
 * 645 us vs 270-340 us here). Non-finite values become null (JSON has no spelling for them), except on the Seldon protocol.
 */
import { randomBytes } from 'node:crypto';
import type { NumericArray, Tensor } from '../tensor.js';
import { elementCount } from '../tensor.js';

/** Pre-serialised JSON, spliced into the document by `stringify`. */
export class RawJson {
  constructor(readonly json: string) {}
}

function allFinite(d: NumericArray): boolean {
  if (d instanceof BigInt64Array || d instanceof BigUint64Array || d instanceof Int32Array || d instanceof Uint8Array) return true;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i] as number)) return false;
  return true;
}

function row(d: NumericArray, start: number, end: number, finite: boolean, python: boolean): string {
  if (finite || python) return `[${d.subarray(start, end).join(',')}]`; // join spells NaN/Infinity as Python does
  let s = '[';
  for (let i = start; i < end; i++) {
    const v = d[i] as number;
    s += (i > start ? ',' : '') + (Number.isFinite(v) ? String(v) : 'null');
  }
  return s + ']';
}

/**
 * The tensor's values as JSON text, nested to its shape or flat; undefined for BYTES and BOOL (plain path).
 * `python`: non-finite values as Python's json.dumps writes them (NaN, Infinity, -Infinity), as Seldon answers.
 */
export function numericJson(t: Tensor, nested: boolean, python = false): RawJson | undefined {
  if (Array.isArray(t.data) || t.datatype === 'BOOL') return undefined;
  const d = t.data;
  const finite = python || allFinite(d);
  if (!nested || t.shape.length <= 1) return new RawJson(row(d, 0, d.length, finite, python));
  const build = (depth: number, offset: number): string => {
    const n = t.shape[depth];
    const stride = elementCount(t.shape.slice(depth + 1));
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const start = offset + i * stride;
      parts[i] = depth === t.shape.length - 2 ? row(d, start, start + stride, finite, python) : build(depth + 1, start);
    }
    return `[${parts.join(',')}]`;
  };
  return new RawJson(build(0, 0));
}

const TOKEN = `__modelfleet_raw_${randomBytes(8).toString('hex')}_`;
const TOKEN_RE = new RegExp(`"${TOKEN}(\\d+)"`, 'g');

/** JSON.stringify that splices RawJson values in verbatim. */
export function stringify(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.json);
      return `${TOKEN}${raws.length - 1}`;
    }
    return v;
  });
  return raws.length ? text.replace(TOKEN_RE, (_m, i: string) => raws[Number(i)]) : text;
}
