/**
 * Signature enforcement as MLflow documents it: inputs are matched to the schema by name (or by position when the
 * schema has no names), missing required columns are an error, undeclared ones are dropped, types are converted
 * only when nothing is lost (int -> long, int -> double, float -> double; not long -> double), and tensor inputs
 * must have the declared dtype and shape. Every problem is a 400 that names the column or tensor.
 *
 * JSON has one number type, so every JSON protocol (Seldon, KServe V1, V2 with FP64, /invocations) delivers FP64:
 * FP64 values are converted to the declared type when they fit it (integral for integer columns), as MLflow's
 * scoring server casts parsed JSON to the schema's types. Strings are parsed when a numeric type is declared, as
 * pandas' astype does for object columns.
 */
import { arrayCtor, badInput } from '@modelfleet/shared';
import type { Datatype, InferenceRequest, Parameters, Tensor, TensorMetadata } from '@modelfleet/shared';
import type { ColumnSpec, ColumnType, ParamSpec, Schema, TensorSpec } from './mlmodel.js';

/** MLServer's request content types: a DataFrame (one input per column), one array, or a dict of named arrays. */
export type ContentType = 'pd' | 'np' | 'dict';

export interface ModelInput {
  contentType: ContentType;
  /** pd: 1-D columns in schema order; np: one tensor; dict: named tensors. */
  tensors: Tensor[];
  /** pd without names (no signature, no data.names / columns): pandas' positional columns 0..k-1. */
  positional?: boolean;
}

export const COLUMN_DATATYPE: Record<ColumnType, Datatype> = {
  boolean: 'BOOL',
  integer: 'INT32',
  long: 'INT64',
  float: 'FP32',
  double: 'FP64',
  string: 'BYTES',
  binary: 'BYTES',
  datetime: 'BYTES',
};

const COLUMN_CONTENT: Record<ColumnType, string> = {
  boolean: 'np',
  integer: 'np',
  long: 'np',
  float: 'np',
  double: 'np',
  string: 'str',
  binary: 'base64',
  datetime: 'datetime',
};

/** Typed sources each column type takes without loss (MLflow's safe conversions). FP64 and BYTES are checked by value. */
const SAFE_FROM: Record<ColumnType, readonly Datatype[]> = {
  boolean: ['BOOL'],
  integer: ['INT8', 'INT16', 'INT32', 'UINT8', 'UINT16'],
  long: ['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32'],
  float: ['FP16', 'BF16', 'FP32', 'INT8', 'INT16', 'UINT8', 'UINT16'],
  double: ['FP16', 'BF16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'UINT8', 'UINT16', 'UINT32'],
  string: ['BYTES'],
  binary: ['BYTES'],
  datetime: ['BYTES'],
};

const NUMPY_DATATYPE: Record<string, Datatype> = {
  bool: 'BOOL',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
};

/** A V2 datatype as the numpy dtype name MLflow's tensor specs use (BYTES as object). */
export function datatypeDtype(dt: Datatype): string {
  if (dt === 'BF16') return 'float32'; // numpy has no bfloat16; BF16 data is held widened to float32
  return Object.keys(NUMPY_DATATYPE).find((k) => NUMPY_DATATYPE[k] === dt) ?? 'object';
}

/** A numpy dtype name as a V2 datatype; strings, bytes and objects are BYTES. */
export function numpyDatatype(dtype: string): Datatype {
  return NUMPY_DATATYPE[dtype] ?? 'BYTES';
}

const RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [-(2 ** 63), 2 ** 63 - 1],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, 2 ** 64 - 1],
};

const quote = (s: string) => JSON.stringify(s);
const describeColumn = (c: ColumnSpec) => `${c.name ?? '?'}: ${c.type}${c.required ? '' : ' (optional)'}`;

/**
 * Element i as a JS value: numbers, booleans for BOOL, strings for BYTES. Raw bytes (gRPC, V2 binary) are UTF-8
 * text, except for binary columns, whose values travel as base64 text as they do in MLflow's JSON.
 */
function elementAt(t: Tensor, i: number, bytesAs: 'text' | 'base64' = 'text'): number | boolean | string {
  const d = t.data;
  if (Array.isArray(d)) {
    const v = d[i];
    return typeof v === 'string' ? v : Buffer.from(v).toString(bytesAs === 'base64' ? 'base64' : 'utf8');
  }
  if (t.datatype === 'BOOL') return d[i] !== 0;
  return Number(d[i]);
}

function fill(dt: Datatype, n: number, value: (i: number) => number | boolean | string): Tensor['data'] {
  if (dt === 'BYTES') return Array.from({ length: n }, (_, i) => String(value(i)));
  if (dt === 'INT64') return BigInt64Array.from({ length: n }, (_, i) => BigInt(value(i) as number));
  if (dt === 'UINT64') return BigUint64Array.from({ length: n }, (_, i) => BigInt(value(i) as number));
  const out = new (arrayCtor(dt))(n) as Float64Array;
  for (let i = 0; i < n; i++) out[i] = Number(value(i));
  return out;
}

/** One value (a JSON number, boolean or string) converted to `target` by value, or the reason it cannot be. */
function convertValue(v: number | boolean | string, target: Datatype): number | boolean | string | { problem: string } {
  if (target === 'BYTES') return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : { problem: `got ${JSON.stringify(v)}` };
  if (target === 'BOOL') {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return /^true$/i.test(v) ? 1 : 0;
    return { problem: `got ${JSON.stringify(v)}` };
  }
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) n = Number(v);
  else return { problem: `got ${JSON.stringify(v)}` };
  const range = RANGE[target];
  if (range) {
    if (!Number.isInteger(n)) return { problem: Number.isNaN(n) ? 'got a missing value (null/NaN)' : `got ${n}, which is not an integer` };
    if (n < range[0] || n > range[1]) return { problem: `got ${n}, outside the range of ${target}` };
  }
  return n;
}

/** Converts a 1-D tensor to `target` by value (JSON numbers and strings); the first bad element is the 400. */
function convertByValue(t: Tensor, target: Datatype, what: string, typeName: string): Tensor {
  const n = t.data.length;
  const out: Array<number | boolean | string> = new Array(n);
  const bytesAs = typeName === 'binary' ? 'base64' : 'text';
  for (let i = 0; i < n; i++) {
    const r = convertValue(elementAt(t, i, bytesAs), target);
    if (typeof r === 'object') throw badInput(`${what}: expected ${typeName}, ${r.problem} (row ${i})`);
    out[i] = r;
  }
  return { name: t.name, datatype: target, shape: t.shape, data: fill(target, n, (i) => out[i]) };
}

/** Converts one column to its declared type, or says (naming the column) why it cannot be. */
export function castColumn(t: Tensor, spec: ColumnSpec, what: string): Tensor {
  const target = COLUMN_DATATYPE[spec.type];
  // Strings are checked one by one: datetimes must parse, binary values become base64 text for the bridge.
  const byValue = spec.type === 'datetime' || spec.type === 'binary';
  let out: Tensor;
  if (t.datatype === target && !byValue) {
    out = t;
  } else if (SAFE_FROM[spec.type].includes(t.datatype) && !byValue) {
    out = { name: t.name, datatype: target, shape: t.shape, data: fill(target, t.data.length, (i) => elementAt(t, i)) };
  } else if (t.datatype === 'FP64' || t.datatype === 'BYTES') {
    out = convertByValue(t, target, what, spec.type);
  } else {
    throw badInput(`${what}: cannot safely convert ${t.datatype} to ${spec.type}`);
  }
  if (spec.type === 'datetime') {
    (out.data as string[]).forEach((s, i) => {
      if (Number.isNaN(Date.parse(s))) throw badInput(`${what}: expected datetime, got ${JSON.stringify(s)} (row ${i})`);
    });
  }
  return { ...out, name: spec.name ?? t.name, shape: [t.data.length] };
}

/** Column j of a row-major [n, k] tensor. */
function columnOf(t: Tensor, j: number, name: string): Tensor {
  const [n, k] = t.shape;
  const d = t.data;
  const data = Array.isArray(d) ? Array.from({ length: n }, (_, i) => d[i * k + j]) : (() => {
    const out = new (d.constructor as new (len: number) => typeof d)(n);
    for (let i = 0; i < n; i++) out[i] = d[i * k + j];
    return out;
  })();
  return { name, datatype: t.datatype, shape: [n], data };
}

/**
 * Requests as columns: one 2-D input is a table (split by `names` when the request gave them - Seldon's
 * data.names - else by position); several inputs are one column each, [n] or [n, 1] (MLServer's `pd`).
 */
export function asColumns(inputs: Tensor[], specs?: ColumnSpec[]): { columns: Tensor[]; positional: boolean } {
  const first = inputs[0];
  const namedColumn = (t: Tensor) => !!specs?.some((s) => s.name === t.name);
  if (inputs.length === 1 && first.shape.length === 2 && !(first.shape[1] === 1 && namedColumn(first))) {
    const k = first.shape[1];
    const given = first.parameters?.names;
    let names: string[];
    let positional = false;
    if (Array.isArray(given) && given.length > 0) {
      if (given.length !== k) throw badInput(`${given.length} names for ${k} columns`);
      names = given.map(String);
    } else if (specs) {
      if (k !== specs.length) {
        throw badInput(`expected ${specs.length} columns (${specs.map(describeColumn).join(', ')}), got ${k}; send data.names or one input per column to pass them by name`);
      }
      names = specs.map((s, j) => s.name ?? String(j));
    } else {
      names = Array.from({ length: k }, (_, j) => String(j));
      positional = true;
    }
    return { columns: names.map((name, j) => columnOf(first, j, name)), positional };
  }
  let rows: number | undefined;
  const columns = inputs.map((t) => {
    if (!(t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1))) {
      throw badInput(`input ${quote(t.name)}: a column must have shape [n] or [n, 1], got [${t.shape}]`);
    }
    if (rows !== undefined && t.shape[0] !== rows) throw badInput(`input ${quote(t.name)} has ${t.shape[0]} rows, the others ${rows}`);
    rows = t.shape[0];
    return { ...t, shape: [t.shape[0]] };
  });
  return { columns, positional: false };
}

/** Matches columns to a column schema and converts them; the result is in schema order. */
export function enforceColumns(columns: Tensor[], specs: ColumnSpec[]): Tensor[] {
  if (specs[0].name === undefined) {
    if (columns.length !== specs.length) throw badInput(`expected ${specs.length} columns, got ${columns.length}`);
    return columns.map((c, i) => castColumn(c, specs[i], `column ${i}`));
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const missing = specs.filter((s) => s.required && !byName.has(s.name!));
  if (missing.length) {
    throw badInput(
      `missing required column${missing.length > 1 ? 's' : ''} ${missing.map((s) => quote(s.name!)).join(', ')}; the model takes ${specs.map(describeColumn).join(', ')}`,
    );
  }
  // Columns the signature does not declare are dropped, as MLflow does.
  return specs.filter((s) => byName.has(s.name!)).map((s) => castColumn(byName.get(s.name!)!, s, `column ${quote(s.name!)}`));
}

/** Checks one tensor against its spec: dtype strictly (JSON numbers converted by value), shape with -1 as any size. */
export function castTensor(t: Tensor, spec: TensorSpec, what: string): Tensor {
  const target = numpyDatatype(spec.dtype);
  const shapeOk = t.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === t.shape[i]);
  if (!shapeOk) throw badInput(`${what}: expected shape [${spec.shape}] (-1: any size), got [${t.shape}]`);
  if (t.datatype === target || (target === 'FP32' && (t.datatype === 'FP16' || t.datatype === 'BF16'))) return { ...t, datatype: target };
  if (t.datatype === 'FP64' && target !== 'BYTES' && target !== 'BOOL') return { ...convertByValue(t, target, what, spec.dtype), shape: t.shape };
  throw badInput(`${what}: expected dtype ${spec.dtype}, got ${t.datatype} (tensor inputs are checked strictly, as MLflow does)`);
}

function enforceTensors(inputs: Tensor[], specs: TensorSpec[]): ModelInput {
  if (specs[0].name === undefined) {
    if (inputs.length !== specs.length) throw badInput(`expected ${specs.length} input tensor(s), got ${inputs.length}`);
    const tensors = inputs.map((t, i) => castTensor(t, specs[i], specs.length === 1 ? 'input tensor' : `input tensor ${i}`));
    return { contentType: specs.length === 1 ? 'np' : 'dict', tensors };
  }
  const byName = new Map(inputs.map((t) => [t.name, t]));
  // A single named spec also takes a single input of another name (Seldon and KServe V1 cannot name tensors).
  if (specs.length === 1 && inputs.length === 1 && !byName.has(specs[0].name!)) byName.set(specs[0].name!, inputs[0]);
  const missing = specs.filter((s) => !byName.has(s.name!));
  if (missing.length) throw badInput(`missing input tensor${missing.length > 1 ? 's' : ''} ${missing.map((s) => quote(s.name!)).join(', ')}`);
  return { contentType: 'dict', tensors: specs.map((s) => ({ ...castTensor(byName.get(s.name!)!, s, `input tensor ${quote(s.name!)}`), name: s.name! })) };
}

/**
 * The model's input for a request. With a signature, the signature decides the form; without one, the request's
 * content_type does (MLServer's), else several inputs are a DataFrame, as is one table when xtype=DataFrame.
 */
export function modelInput(request: InferenceRequest, schema: Schema | undefined, xtype: string): ModelInput {
  const inputs = request.inputs;
  if (!inputs.length) throw badInput('the request holds no input');
  if (schema?.kind === 'columns') return { contentType: 'pd', tensors: enforceColumns(asColumns(inputs, schema.columns).columns, schema.columns) };
  if (schema?.kind === 'tensors') return enforceTensors(inputs, schema.tensors);
  const ct = request.parameters?.content_type;
  if (ct === 'np') return { contentType: 'np', tensors: [inputs[0]] };
  if (ct === 'dict') return { contentType: 'dict', tensors: inputs };
  if (ct === 'pd' || inputs.length > 1 || xtype === 'DataFrame') {
    const { columns, positional } = asColumns(inputs);
    return { contentType: 'pd', tensors: columns, positional };
  }
  return { contentType: 'np', tensors: [inputs[0]] };
}

/** The params a prediction gets: declared ones from the request (converted to their type), else their defaults. */
export function enforceParams(given: Parameters | undefined, specs: ParamSpec[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs ?? []) {
    const v = given?.[spec.name];
    if (v === undefined || v === null) {
      out[spec.name] = spec.default;
      continue;
    }
    const one = (x: unknown) => {
      if (typeof x !== 'number' && typeof x !== 'boolean' && typeof x !== 'string') throw badInput(`param ${quote(spec.name)}: expected ${spec.type}, got ${JSON.stringify(x)}`);
      const r = convertValue(x, COLUMN_DATATYPE[spec.type]);
      if (typeof r === 'object') throw badInput(`param ${quote(spec.name)}: expected ${spec.type}, ${r.problem}`);
      return spec.type === 'boolean' ? r === 1 : r;
    };
    if (spec.shape) {
      if (!Array.isArray(v)) throw badInput(`param ${quote(spec.name)}: expected a list of ${spec.type}`);
      out[spec.name] = v.map(one);
    } else {
      out[spec.name] = one(v);
    }
  }
  return out;
}

/** V2 metadata for a schema: MLServer's datatypes and content types; unnamed inputs are input-<i>. */
export function schemaMetadata(schema: Schema, side: 'input' | 'output'): TensorMetadata[] {
  const unnamed = (i: number, n: number) => (side === 'input' ? `input-${i}` : n === 1 ? 'predictions' : String(i));
  if (schema.kind === 'tensors') {
    return schema.tensors.map((t, i) => ({
      name: t.name ?? unnamed(i, schema.tensors.length),
      datatype: numpyDatatype(t.dtype),
      shape: t.shape,
      parameters: { content_type: 'np' },
    }));
  }
  return schema.columns.map((c, i) => ({
    name: c.name ?? unnamed(i, schema.columns.length),
    datatype: COLUMN_DATATYPE[c.type],
    shape: [-1, 1],
    parameters: { content_type: COLUMN_CONTENT[c.type], ...(c.required ? {} : { optional: true }) },
  }));
}
