/**
 * Stacking requests into one engine call and splitting the answer back: the one mechanism behind adaptive batching
 * (adaptive.ts) and the Python engine's merging of queued requests. Requests merge when their inputs have the same
 * names, datatypes and per-row shape, and they ask for the same outputs with the same parameters.
 */
import type { Parameters, Tensor } from '../tensor.js';
import { elementCount, type NumericArray } from '../tensor.js';

export interface Stackable {
  inputs: Tensor[];
  outputs?: Array<{ name: string; parameters?: Parameters }> | string[];
  parameters?: Parameters | Record<string, unknown>;
}

/** Rows of a request: every input's first dimension, when they agree; undefined when it cannot be stacked. */
export function rowsOf(r: Stackable): number | undefined {
  if (!r.inputs.length) return undefined;
  const rows = r.inputs[0].shape[0];
  if (r.inputs.some((t) => t.shape.length < 1 || t.shape[0] !== rows)) return undefined;
  return rows;
}

/** Requests with equal keys can share one call. */
export function stackKey(r: Stackable): string {
  return JSON.stringify([r.inputs.map((t) => [t.name, t.datatype, t.data.constructor.name, t.shape.slice(1), t.parameters ?? null]), r.outputs ?? null, r.parameters ?? null]);
}

/** Concatenates the requests' inputs along the first axis (each input with its namesakes). */
export function stackInputs(batch: Stackable[]): Tensor[] {
  return batch[0].inputs.map((first, i) => {
    const parts = batch.map((r) => r.inputs[i]);
    const rows = parts.reduce((n, t) => n + t.shape[0], 0);
    const shape = [rows, ...first.shape.slice(1)];
    if (first.datatype === 'BYTES' || Array.isArray(first.data)) {
      return { ...first, shape, data: parts.flatMap((t) => Array.from(t.data as ArrayLike<string | Uint8Array>)) } as Tensor;
    }
    // The parts' own array type (codecs may widen, e.g. JSON numbers into Float64Array); the key made them equal.
    const Ctor = first.data.constructor as new (n: number) => NumericArray;
    const out = new Ctor(elementCount(shape));
    let offset = 0;
    for (const t of parts) {
      const d = t.data as NumericArray;
      (out as Float64Array).set(d as Float64Array, offset);
      offset += d.length;
    }
    return { ...first, shape, data: out };
  });
}

/** Splits stacked outputs back by rows; undefined if an output is not one row per input row (then run them alone). */
export function splitOutputs(outputs: Tensor[], rows: number[]): Tensor[][] | undefined {
  const total = rows.reduce((a, b) => a + b, 0);
  if (!outputs.every((o) => o.shape.length >= 1 && o.shape[0] === total)) return undefined;
  const per: Tensor[][] = rows.map(() => []);
  for (const o of outputs) {
    const rowSize = elementCount(o.shape.slice(1));
    let start = 0;
    rows.forEach((n, k) => {
      const data = o.data.slice(start * rowSize, (start + n) * rowSize);
      per[k].push({ ...o, shape: [n, ...o.shape.slice(1)], data } as Tensor);
      start += n;
    });
  }
  return per;
}
