/**
 * Caller data as the servers' own tensor type (shared/src/tensor.ts) and back: typed arrays go in and come out
 * without a per-element pass; nested JS arrays are flattened with the servers' own JSON rules.
 */
import type { Datatype, NumericArray, Parameters, Tensor } from '@modelfleet/shared/tensor';
import { elementCount, fromNumbers, inferDatatype, isDatatype } from '@modelfleet/shared/tensor';
import { flatten, jsonValues, nest, nestedShape } from '@modelfleet/shared/codecs/ndarray';

export type { Datatype, Tensor };

export type TypedArray = NumericArray;

/** An input as callers write it: data as a typed array (datatype implied), a nested array, or a flat one plus shape. */
export interface TensorInput {
  name: string;
  data: TypedArray | readonly unknown[];
  /** Default: the typed array's (Float32Array → FP32, ...), else FP64 for numbers, BOOL, BYTES for strings. */
  datatype?: Datatype;
  /** Default: the nesting of `data`, or [length] for a flat typed array. */
  shape?: number[];
  parameters?: Parameters;
}

const TYPED: Array<[Function, Datatype]> = [
  [Float64Array, 'FP64'],
  [Float32Array, 'FP32'],
  [Int8Array, 'INT8'],
  [Int16Array, 'INT16'],
  [Int32Array, 'INT32'],
  [BigInt64Array, 'INT64'],
  [Uint8Array, 'UINT8'],
  [Uint16Array, 'UINT16'],
  [Uint32Array, 'UINT32'],
  [BigUint64Array, 'UINT64'],
];

export function typedDatatype(data: unknown): Datatype | undefined {
  return TYPED.find(([Ctor]) => data instanceof Ctor)?.[1];
}

export function toTensor(input: TensorInput): Tensor {
  const { name, parameters } = input;
  if (!name) throw new TypeError('every input needs a name');
  if (input.datatype !== undefined && !isDatatype(input.datatype)) throw new TypeError(`input ${name}: unknown datatype ${input.datatype}`);
  const typed = typedDatatype(input.data);
  let datatype: Datatype;
  let shape: number[];
  let data: Tensor['data'];
  if (typed) {
    const arr = input.data as TypedArray;
    datatype = input.datatype ?? typed;
    shape = input.shape ?? [arr.length];
    // A typed array of another type than declared (e.g. Float64Array for FP32) is converted, not reinterpreted.
    data = datatype === typed || (datatype === 'BOOL' && typed === 'UINT8') ? arr : datatype === 'BYTES' ? Array.from(arr as Float64Array, String) : fromNumbers(datatype, arr);
  } else {
    const nestedShapeOf = nestedShape(input.data);
    const flat = flatten(input.data, nestedShapeOf, `input ${name}`);
    shape = input.shape ?? nestedShapeOf;
    datatype = input.datatype ?? inferDatatype(flat);
    if (datatype === 'BYTES') data = flat.map((v) => (v instanceof Uint8Array ? v : String(v)));
    else if (datatype === 'BOOL') data = fromNumbers('BOOL', flat.map((v) => (v ? 1 : 0)));
    else data = fromNumbers(datatype, flat.map((v) => (v === null ? NaN : v)));
  }
  if (elementCount(shape) !== data.length) throw new TypeError(`input ${name}: shape [${shape}] holds ${elementCount(shape)} elements, data has ${data.length}`);
  return { name, datatype, shape, data, ...(parameters ? { parameters } : {}) };
}

/** A tensor's values nested to its shape as plain JS (numbers, booleans, strings): for printing and JSON. */
export function toNested(t: Tensor): unknown {
  return nest(jsonValues(t), t.shape);
}
