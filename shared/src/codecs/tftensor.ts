import { badInput } from '../errors.js';
import type { Datatype, NumericArray, Tensor } from '../tensor.js';
import { arrayCtor, elementCount, fromNumbers, isBigIntType } from '../tensor.js';

/** TensorFlow DataType enum values we map to V2 datatypes (tensorflow/core/framework/types.proto). */
const DT_TO_V2: Record<string, Datatype> = {
  DT_FLOAT: 'FP32',
  DT_DOUBLE: 'FP64',
  DT_INT32: 'INT32',
  DT_UINT8: 'UINT8',
  DT_INT16: 'INT16',
  DT_INT8: 'INT8',
  DT_STRING: 'BYTES',
  DT_INT64: 'INT64',
  DT_BOOL: 'BOOL',
  DT_BFLOAT16: 'BF16',
  DT_UINT16: 'UINT16',
  DT_HALF: 'FP16',
  DT_UINT32: 'UINT32',
  DT_UINT64: 'UINT64',
};
export const TF_DTYPE_NUMBER: Record<string, number> = {
  DT_FLOAT: 1, DT_DOUBLE: 2, DT_INT32: 3, DT_UINT8: 4, DT_INT16: 5, DT_INT8: 6, DT_STRING: 7, DT_INT64: 9,
  DT_BOOL: 10, DT_BFLOAT16: 14, DT_UINT16: 17, DT_HALF: 19, DT_UINT32: 22, DT_UINT64: 23,
};
const V2_TO_DT = Object.fromEntries(Object.entries(DT_TO_V2).map(([k, v]) => [v, k])) as Record<Datatype, string>;
const NUMBER_TO_DT = Object.fromEntries(Object.entries(TF_DTYPE_NUMBER).map(([k, v]) => [v, k]));

/** The *_val field holding values for each datatype when tensor_content is not used. */
const VAL_FIELD: Record<Datatype, string> = {
  FP32: 'floatVal', FP64: 'doubleVal', INT32: 'intVal', INT16: 'intVal', INT8: 'intVal', UINT8: 'intVal',
  UINT16: 'intVal', INT64: 'int64Val', BOOL: 'boolVal', BYTES: 'stringVal', FP16: 'halfVal', BF16: 'halfVal',
  UINT32: 'uint32Val', UINT64: 'uint64Val',
};

const pick = (o: Record<string, unknown>, camel: string) => o[camel] ?? o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];

export function tfDatatype(dtype: unknown): Datatype {
  const key = typeof dtype === 'number' ? NUMBER_TO_DT[dtype] : String(dtype);
  const dt = DT_TO_V2[key];
  if (!dt) throw badInput(`tftensor dtype ${String(dtype)} is not supported`);
  return dt;
}

/** A TensorProto in proto3 JSON (camelCase or snake_case) as a tensor. */
export function tftensorToTensor(proto: unknown, name: string): Tensor {
  if (!proto || typeof proto !== 'object') throw badInput('tftensor must be an object');
  const p = proto as Record<string, unknown>;
  const datatype = tfDatatype(p.dtype ?? 'DT_FLOAT');
  const shapeProto = (pick(p, 'tensorShape') ?? {}) as Record<string, unknown>;
  const shape = ((shapeProto.dim ?? []) as Array<{ size?: string | number }>).map((d) => Number(d.size ?? 0));
  const count = elementCount(shape);
  const content = pick(p, 'tensorContent');
  // proto3 JSON carries bytes as base64 text; protobuf objects (gRPC) as Buffers.
  if ((typeof content === 'string' || content instanceof Uint8Array) && content.length && datatype !== 'BYTES') {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'base64') : Buffer.from(content.buffer, content.byteOffset, content.length);
    const src = toNumeric(datatype, bytes, count);
    return { name, datatype, shape, data: src };
  }
  const raw = (pick(p, VAL_FIELD[datatype]) ?? []) as unknown[];
  // TensorFlow broadcasts a single value to the whole shape.
  const vals = raw.length === 1 && count > 1 ? new Array(count).fill(raw[0]) : raw;
  if (vals.length !== count) throw badInput(`tftensor shape [${shape}] needs ${count} values, got ${vals.length}`);
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: vals.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v), 'base64')).toString('utf8')) };
  }
  if (datatype === 'BOOL') return { name, datatype, shape, data: fromNumbers('BOOL', vals.map((v) => (v ? 1 : 0))) };
  if (datatype === 'FP16' || datatype === 'BF16') throw badInput('tftensor half_val is not supported; send tensor_content');
  // int64 values arrive as decimal strings (proto3 JSON, proto-loader longs): BigInt reads them exactly.
  const big = isBigIntType(datatype);
  return { name, datatype, shape, data: fromNumbers(datatype, vals.map((v) => (typeof v === 'string' && !big ? Number(v) : v))) };
}

function toNumeric(datatype: Exclude<Datatype, 'BYTES'>, bytes: Buffer, count: number): NumericArray {
  if (datatype === 'FP16' || datatype === 'BF16') throw badInput('tftensor FP16/BF16 content is not supported');
  const Ctor = arrayCtor(datatype);
  if (bytes.length !== count * Ctor.BYTES_PER_ELEMENT) {
    throw badInput(`tftensor content has ${bytes.length} bytes, shape needs ${count * Ctor.BYTES_PER_ELEMENT}`);
  }
  const aligned = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  return new Ctor(aligned, 0, count);
}

/** A tensor as TensorProto JSON: numeric data in tensorContent (as TensorFlow's make_tensor_proto does). */
export function tensorToTftensor(t: Tensor): Record<string, unknown> {
  const dtype = V2_TO_DT[t.datatype === 'FP16' || t.datatype === 'BF16' ? 'FP32' : t.datatype];
  const tensorShape = { dim: t.shape.map((s) => ({ size: String(s) })) };
  if (Array.isArray(t.data)) {
    return { dtype, tensorShape, stringVal: t.data.map((v) => Buffer.from(typeof v === 'string' ? v : v).toString('base64')) };
  }
  const d = t.datatype === 'FP16' || t.datatype === 'BF16' ? Float32Array.from(t.data as Float32Array) : t.data;
  return { dtype, tensorShape, tensorContent: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') };
}
