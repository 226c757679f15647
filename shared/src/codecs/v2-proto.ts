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
