/**
 * The one internal tensor type. Every protocol codec turns requests into these and responses back; runtimes and
 * engines see nothing else. Numeric data lives in typed arrays (row-major), so binary protocols and worker threads
 * move it without per-element work.
 */
export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

export type NumericArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** BYTES elements: strings from JSON, raw bytes from binary encodings. */
export type BytesArray = Array<string | Uint8Array>;
export type TensorData = NumericArray | BytesArray;

export type Parameters = Record<string, unknown>;

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** BOOL is a Uint8Array of 0/1; FP16 and BF16 hold their values widened to Float32Array. */
  data: TensorData;
  parameters?: Parameters;
}

interface TypedArrayCtor {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
}

const CTORS: Record<Exclude<Datatype, 'BYTES'>, TypedArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array as unknown as TypedArrayCtor,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array as unknown as TypedArrayCtor,
  FP16: Float32Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Float32Array,
};

export const DATATYPES = Object.freeze([...Object.keys(CTORS), 'BYTES'] as Datatype[]);

/** Size of one element on the wire (binary extension, raw gRPC contents); BYTES is variable. */
export const WIRE_BYTES: Record<Exclude<Datatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BF16: 2,
};

export function isDatatype(s: unknown): s is Datatype {
  return typeof s === 'string' && (s === 'BYTES' || s in CTORS);
}

export function isBigIntType(dt: Datatype): boolean {
  return dt === 'INT64' || dt === 'UINT64';
}

export function arrayCtor(dt: Exclude<Datatype, 'BYTES'>): TypedArrayCtor {
  return CTORS[dt];
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isBytes(t: Tensor): t is Tensor & { data: BytesArray } {
  return t.datatype === 'BYTES';
}

/** Reads element i as a JS number (BYTES are not numbers: callers check first). */
export function numberAt(data: NumericArray, i: number): number {
  return Number(data[i]);
}

/** The data as float64, without a copy when it already is. */
export function asFloat64(t: Tensor): Float64Array {
  if (t.data instanceof Float64Array) return t.data;
  if (Array.isArray(t.data)) throw new TypeError(`tensor ${t.name} holds BYTES, not numbers`);
  const out = new Float64Array(t.data.length);
  const src = t.data;
  for (let i = 0; i < out.length; i++) out[i] = Number(src[i]);
  return out;
}

/** Allocates a typed array for `dt` filled from JS numbers/booleans/bigints (JSON decoding). */
export function fromNumbers(dt: Exclude<Datatype, 'BYTES'>, values: ArrayLike<unknown>): NumericArray {
  const out = new CTORS[dt](values.length);
  if (isBigIntType(dt)) {
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < values.length; i++) big[i] = BigInt(values[i] as number);
  } else {
    const num = out as Float64Array;
    for (let i = 0; i < values.length; i++) num[i] = Number(values[i]);
  }
  return out;
}

/** The JSON datatype name for the kind of values a JS array holds; mixed values fall back to BYTES. */
export function inferDatatype(values: readonly unknown[]): Datatype {
  let sawNumber = false;
  let sawBool = false;
  let sawString = false;
  for (const v of values) {
    if (typeof v === 'number' || v === null) sawNumber = true;
    else if (typeof v === 'boolean') sawBool = true;
    else sawString = true;
  }
  if (sawString || (sawBool && sawNumber)) return 'BYTES';
  if (sawBool) return 'BOOL';
  return 'FP64';
}
