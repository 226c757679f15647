/**
 * V2 gRPC messages (package inference) as @grpc/proto-loader objects (keepCase, longs as strings, bytes as Buffers)
 * to and from the internal request/response. A request with raw_input_contents is answered with
 * raw_output_contents, as Triton does; otherwise outputs use the typed contents fields.
 */
import { randomUUID } from 'node:crypto';
import { badInput } from '../errors.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata } from '../runtime.js';
import type { Datatype, NumericArray, Parameters, Tensor } from '../tensor.js';
import { elementCount, fromNumbers, isDatatype } from '../tensor.js';
import { decodeRaw, encodeRaw } from './raw.js';
import { checkIntegers } from './int-ranges.js';
import { Bail, FIXED32, FIXED64, LEN, tryRead, VARINT, WireReader, WireWriter } from './protobuf-wire.js';

type Obj = Record<string, any>;

/** Which InferTensorContents field holds each datatype (FP16/BF16 travel only as raw contents). */
const CONTENTS_FIELD: Partial<Record<Datatype, string>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

export function parametersFromProto(p: Record<string, Obj> | undefined): Parameters | undefined {
  if (!p || !Object.keys(p).length) return undefined;
  return Object.fromEntries(
    Object.entries(p).map(([k, v]) => {
      const which = v.parameter_choice as string;
      const value = v[which];
      return [k, which === 'int64_param' || which === 'uint64_param' ? Number(value) : value];
    }),
  );
}

export function parametersToProto(p: Parameters | undefined): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [k, v] of Object.entries(p ?? {})) {
    if (typeof v === 'boolean') out[k] = { bool_param: v };
    else if (typeof v === 'number') out[k] = Number.isInteger(v) ? { int64_param: String(v) } : { double_param: v };
    else if (v !== undefined && v !== null) out[k] = { string_param: typeof v === 'string' ? v : JSON.stringify(v) };
  }
  return out;
}

export function decodeV2Proto(m: Obj): { request: InferenceRequest; raw: boolean } {
  const raws: Buffer[] = m.raw_input_contents ?? [];
  const inputs: Obj[] = m.inputs ?? [];
  if (!inputs.length) throw badInput('ModelInferRequest has no inputs');
  if (raws.length && raws.length !== inputs.length) {
    throw badInput(`raw_input_contents has ${raws.length} entries for ${inputs.length} inputs`);
  }
  const tensors = inputs.map((t, i): Tensor => {
    const name = String(t.name ?? '');
    if (!name) throw badInput(`inputs[${i}] needs a name`);
    if (!isDatatype(t.datatype)) throw badInput(`input ${name}: unknown datatype ${JSON.stringify(t.datatype)}`);
    const datatype = t.datatype;
    const shape = (t.shape ?? []).map(Number);
    if (!shape.every((d: number) => Number.isInteger(d) && d >= 0)) throw badInput(`input ${name}: shape must be non-negative integers`);
    const parameters = parametersFromProto(t.parameters);
    if (raws.length) {
      if (t.contents && Object.values(t.contents as Obj).some((a) => Array.isArray(a) && a.length)) {
        throw badInput(`input ${name}: contents and raw_input_contents are both set`);
      }
      return { ...decodeRaw(name, datatype, shape, raws[i]), ...(parameters ? { parameters } : {}) };
    }
    const field = CONTENTS_FIELD[datatype];
    if (!field) throw badInput(`input ${name}: ${datatype} travels only in raw_input_contents`);
    const values: unknown[] = t.contents?.[field] ?? [];
    const count = elementCount(shape);
    if (values.length !== count) throw badInput(`input ${name}: shape [${shape}] needs ${count} elements, got ${values.length} in ${field}`);
    // int_contents / uint_contents are 32-bit: narrower datatypes must still hold their values.
    if (datatype === 'INT8' || datatype === 'INT16' || datatype === 'UINT8' || datatype === 'UINT16') checkIntegers(name, datatype, values);
    const data: Tensor['data'] =
      datatype === 'BYTES'
        ? (values as Buffer[]).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length))
        : datatype === 'BOOL'
          ? fromNumbers('BOOL', values.map((v) => (v ? 1 : 0)))
          : fromNumbers(datatype, values);
    return { name, datatype, shape, data, ...(parameters ? { parameters } : {}) };
  });
  const outputs = (m.outputs ?? []).map((o: Obj) => {
    const parameters = parametersFromProto(o.parameters);
    return { name: String(o.name), ...(parameters ? { parameters } : {}) };
  });
  const parameters = parametersFromProto(m.parameters);
  return {
    request: {
      ...(m.id ? { id: String(m.id) } : {}),
      inputs: tensors,
      ...(outputs.length ? { outputs } : {}),
      ...(parameters ? { parameters } : {}),
    },
    raw: raws.length > 0,
  };
}

function contentsOf(t: Tensor): Obj {
  const field = CONTENTS_FIELD[t.datatype]!;
  const d = t.data;
  if (Array.isArray(d)) return { [field]: d.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v))) };
  const n = d as NumericArray;
  if (t.datatype === 'BOOL') return { [field]: Array.from(n as Uint8Array, (v) => v !== 0) };
  if (n instanceof BigInt64Array || n instanceof BigUint64Array) return { [field]: Array.from(n, (v) => v.toString()) };
  return { [field]: Array.from(n as Float64Array) };
}

export function encodeV2Proto(response: InferenceResponse, request: InferenceRequest, raw: boolean, model: { name: string; version?: string }): Obj {
  const out: Obj = {
    model_name: model.name,
    model_version: model.version ?? '',
    id: response.id ?? request.id ?? randomUUID(),
    parameters: parametersToProto(response.parameters),
  };
  // FP16/BF16 outputs have no typed contents field: they force the raw form.
  const useRaw = raw || response.outputs.some((t) => !CONTENTS_FIELD[t.datatype]);
  out.outputs = response.outputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape.map(String),
    parameters: parametersToProto(t.parameters),
    ...(useRaw ? {} : { contents: contentsOf(t) }),
  }));
  if (useRaw) out.raw_output_contents = response.outputs.map((t) => Buffer.from(encodeRaw(t)));
  return out;
}

export function metadataToProto(md: ModelMetadata): Obj {
  const tensor = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String) });
  return { name: md.name, versions: md.versions ?? [], platform: md.platform, inputs: md.inputs.map(tensor), outputs: md.outputs.map(tensor) };
}

/*
 * The fast path: ModelInferRequest / ModelInferResponse between wire bytes and the proto-loader-shaped objects above,
 * without protobufjs, for messages without parameters whose contents are numbers or booleans (or raw contents).
 * Anything else returns undefined and goes through protobufjs, so both paths give the same message.
 */

/** Typed contents fields read on the fast path: field number -> [name, element reader]. */
const FAST_CONTENTS: Record<number, [string, 'bool' | 'int32' | 'uint32' | 'float' | 'double']> = {
  1: ['bool_contents', 'bool'],
  2: ['int_contents', 'int32'],
  4: ['uint_contents', 'uint32'],
  6: ['fp32_contents', 'float'],
  7: ['fp64_contents', 'double'],
};

/** inference.ModelInferRequest bytes as proto-loader would give them (shape as numbers), or undefined. */
export function v2RequestFromWire(buf: Buffer): Obj | undefined {
  return tryRead(() => {
    const r = new WireReader(buf);
    const out: Obj = { inputs: [], outputs: [], raw_input_contents: [] };
    while (!r.done) {
      const tag = r.varint();
      if (tag === ((1 << 3) | LEN)) out.model_name = r.string();
      else if (tag === ((2 << 3) | LEN)) out.model_version = r.string();
      else if (tag === ((3 << 3) | LEN)) out.id = r.string();
      else if (tag === ((5 << 3) | LEN)) out.inputs.push(readInput(r, r.len()));
      else if (tag === ((6 << 3) | LEN)) {
        const end = r.len();
        const o: Obj = {};
        while (r.pos < end) {
          if (r.varint() !== ((1 << 3) | LEN)) throw new Bail();
          o.name = r.string();
        }
        if (r.pos !== end) throw new Bail();
        out.outputs.push(o);
      } else if (tag === ((7 << 3) | LEN)) out.raw_input_contents.push(r.bytes());
      else throw new Bail();
    }
    return out;
  });
}

function readInput(r: WireReader, end: number): Obj {
  const t: Obj = { shape: [] as number[] };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LEN)) t.name = r.string();
    else if (tag === ((2 << 3) | LEN)) t.datatype = r.string();
    else if (tag === ((3 << 3) | LEN)) {
      const e = r.len();
      while (r.pos < e) t.shape.push(r.varint());
      if (r.pos !== e) throw new Bail();
    } else if (tag === ((3 << 3) | VARINT)) t.shape.push(r.varint());
    else if (tag === ((5 << 3) | LEN)) t.contents = readContents(r, r.len(), t.contents ?? {});
    else throw new Bail();
  }
  if (r.pos !== end) throw new Bail();
  return t;
}

function readContents(r: WireReader, end: number, contents: Obj): Obj {
  while (r.pos < end) {
    const tag = r.varint();
    const fast = FAST_CONTENTS[tag >>> 3];
    if (!fast) throw new Bail();
    const [name, kind] = fast;
    const values: unknown[] = (contents[name] ??= []);
    const wire = tag & 7;
    const one = () => {
      if (kind === 'double') values.push(r.double());
      else if (kind === 'float') values.push(r.float());
      else if (kind === 'bool') values.push(r.varint() !== 0);
      else if (kind === 'int32') values.push(r.int32());
      else {
        const v = r.varint();
        if (v > 0xffffffff) throw new Bail();
        values.push(v);
      }
    };
    const scalarWire = kind === 'double' ? FIXED64 : kind === 'float' ? FIXED32 : VARINT;
    if (wire === LEN) {
      const e = r.len();
      while (r.pos < e) one();
      if (r.pos !== e) throw new Bail();
    } else if (wire === scalarWire) one();
    else throw new Bail();
  }
  if (r.pos !== end) throw new Bail();
  return contents;
}

const isEmpty = (o: Obj | undefined) => {
  for (const _ in o) return false;
  return true;
};

/** A ModelInferResponse object (as encodeV2Proto builds it) as wire bytes, or undefined when off the fast path. */
export function v2ResponseToWire(m: Obj): Buffer | undefined {
  if (!isEmpty(m.parameters)) return undefined;
  const w = new WireWriter();
  if (m.model_name) w.string(1, m.model_name);
  if (m.model_version) w.string(2, m.model_version);
  if (m.id) w.string(3, m.id);
  for (const t of m.outputs as Obj[]) {
    if (!isEmpty(t.parameters)) return undefined;
    const o = w.begin(5);
    w.string(1, t.name);
    w.string(2, t.datatype);
    if (t.shape.length) {
      const s = w.begin(3);
      for (const d of t.shape) {
        const n = Number(d);
        if (!Number.isSafeInteger(n) || n < 0) return undefined;
        w.varint(n);
      }
      w.end(s);
    }
    if (t.contents) {
      const c = w.begin(5);
      for (const field in t.contents) {
        const values = t.contents[field] as unknown[];
        if (!values.length) continue;
        const p = field === 'fp64_contents' ? 7 : field === 'fp32_contents' ? 6 : field === 'int_contents' ? 2 : field === 'uint_contents' ? 4 : field === 'bool_contents' ? 1 : 0;
        if (!p) return undefined;
        if (p === 7) {
          w.tag(7, LEN);
          w.varint(values.length * 8);
          for (const v of values) w.double(v as number);
        } else if (p === 6) {
          w.tag(6, LEN);
          w.varint(values.length * 4);
          for (const v of values) w.float(v as number);
        } else {
          const l = w.begin(p);
          for (const v of values) {
            const n = p === 1 ? (v ? 1 : 0) : (v as number);
            if (!Number.isInteger(n) || n < 0) return undefined; // negative int32s take 10 bytes: protobufjs writes them
            w.varint(n);
          }
          w.end(l);
        }
      }
      w.end(c);
    }
    w.end(o);
  }
  for (const raw of m.raw_output_contents ?? []) w.bytes(6, raw as Uint8Array);
  return w.finish();
}
