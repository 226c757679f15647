/**
 * Internal tensors <-> onnxruntime tensors. Kept free of onnxruntime imports (plain {type, data, dims} records) so
 * it also runs inside worker threads and in unit tests without loading the native binding.
 */
import { halfToFloat, floatToHalf } from '../codecs/half.js';
import { badInput } from '../errors.js';
import type { Datatype, NumericArray, Tensor } from '../tensor.js';
import { elementCount } from '../tensor.js';

/** ONNX element types onnxruntime-node can feed and fetch, with their V2 datatype. */
export const ORT_TO_V2: Record<string, Datatype> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
};

export type OrtData = NumericArray | string[];

/** What onnxruntime's Tensor constructor takes: (type, data, dims). */
export interface OrtTensorLike {
  type: string;
  data: OrtData;
  dims: readonly number[];
}

/** An ONNX input as the session describes it: element type and shape (numbers, or names/'' for dynamic dims). */
export interface OrtInputInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

const utf8 = new TextDecoder();

/**
 * Converts a request tensor to what input `info` takes. Numbers convert between numeric types (Seldon and KServe
 * send JSON numbers, which decode as FP64); integer inputs refuse fractions rather than truncate them. Strings and
 * numbers do not convert into each other.
 */
export function toOrt(t: Tensor, info: OrtInputInfo): OrtTensorLike {
  const dims = fitShape(t, info);
  if (info.type === 'string') {
    if (t.datatype !== 'BYTES') throw badInput(`input ${info.name} takes strings (BYTES), got ${t.datatype}`);
    const data = (t.data as Array<string | Uint8Array>).map((v) => (typeof v === 'string' ? v : utf8.decode(v)));
    return { type: 'string', data, dims };
  }
  if (t.datatype === 'BYTES') throw badInput(`input ${info.name} takes ${ORT_TO_V2[info.type] ?? info.type} numbers, got BYTES`);
  return { type: info.type, data: convertNumeric(t, info), dims };
}

function convertNumeric(t: Tensor, info: OrtInputInfo): NumericArray {
  const src = t.data as NumericArray;
  const n = src.length;
  switch (info.type) {
    case 'float32':
      // FP16/BF16 arrive widened to Float32Array, which is exactly float32 data.
      return src instanceof Float32Array ? src : Float32Array.from(src as ArrayLike<number>, Number);
    case 'float64':
      return src instanceof Float64Array ? src : Float64Array.from(src as ArrayLike<number>, Number);
    case 'float16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = floatToHalf(Number(src[i]));
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]) !== 0 ? 1 : 0;
      return out;
    }
    case 'int64':
    case 'uint64': {
      if ((info.type === 'int64' && src instanceof BigInt64Array) || (info.type === 'uint64' && src instanceof BigUint64Array)) return src;
      const out = info.type === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = typeof src[i] === 'bigint' ? (src[i] as bigint) : BigInt(integral(Number(src[i]), info, i));
      return out;
    }
    default: {
      const Ctor = INT_CTORS[info.type];
      if (!Ctor) throw badInput(`input ${info.name} has ONNX type ${info.type}, which this server cannot feed`);
      if (src instanceof Ctor) return src;
      const out = new Ctor(n);
      for (let i = 0; i < n; i++) out[i] = integral(Number(src[i]), info, i);
      return out;
    }
  }
}

const INT_CTORS: Record<string, { new (n: number): Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array }> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
};

function integral(x: number, info: OrtInputInfo, i: number): number {
  if (!Number.isInteger(x)) throw badInput(`input ${info.name} takes ${info.type} integers; element ${i} is ${x}`);
  return x;
}

/**
 * The dims to feed. A request whose rank differs from the model's is reshaped when the model's non-batch dims are
 * all fixed and the element count divides by them: Seldon's flat rows [[64 values]] feed a [N, 1, 8, 8] CNN, and a
 * 1-D string list (sent as one row) feeds an [N] input. Equal ranks are left to onnxruntime to check.
 */
export function fitShape(t: Tensor, info: OrtInputInfo): number[] {
  const want = info.shape;
  if (!want.length || want.length === t.shape.length) return t.shape;
  const rest = want.slice(1);
  if (!rest.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw badInput(`input ${info.name} has rank ${want.length} (${describeShape(want)}), got shape [${t.shape}]`);
  }
  const per = rest.reduce((a, b) => a * b, 1);
  const count = elementCount(t.shape);
  if (count % per !== 0) throw badInput(`input ${info.name} takes shape ${describeShape(want)}; ${count} values do not fill whole rows of ${per}`);
  return [count / per, ...rest];
}

export const describeShape = (shape: ReadonlyArray<number | string>) => `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)).join(', ')}]`;

/** An onnxruntime output as an internal tensor (float16 widened to Float32Array, as FP16 tensors hold it). */
export function fromOrt(name: string, o: OrtTensorLike): Tensor {
  const datatype = ORT_TO_V2[o.type];
  if (!datatype) throw new Error(`output ${name} has ONNX type ${o.type}, which has no V2 datatype`);
  const shape = [...o.dims];
  if (o.type === 'float16') {
    const src = o.data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
    return { name, datatype, shape, data: out };
  }
  return { name, datatype, shape, data: o.data as Tensor['data'] };
}
