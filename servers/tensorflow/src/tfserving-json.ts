/**
 * Tensors <-> TF Serving's REST predict JSON (tensorflow.org/tfx/serving/api_rest): requests in row format
 * ({"instances": [...]}) or columnar format ({"inputs": ...}); answers as {"predictions": ...} or {"outputs": ...};
 * binary strings as {"b64": "..."}.
 */
import { badInput, internal } from '@modelfleet/shared';
import type { Datatype, Tensor } from '@modelfleet/shared';
import { fromNumbers } from '@modelfleet/shared';
import { flatten, jsonValues, ndarrayToTensor, nest, nestedShape } from '@modelfleet/shared/codecs/ndarray';

export type TfFormat = 'row' | 'columnar';

/** TF dtypes (signature metadata) that map to a V2 datatype, so JSON numbers come back in the signature's type. */
export const TF_DTYPES: Record<string, Datatype> = {
  DT_FLOAT: 'FP32',
  DT_DOUBLE: 'FP64',
  DT_HALF: 'FP16',
  DT_BFLOAT16: 'BF16',
  DT_INT8: 'INT8',
  DT_INT16: 'INT16',
  DT_INT32: 'INT32',
  DT_INT64: 'INT64',
  DT_UINT8: 'UINT8',
  DT_UINT16: 'UINT16',
  DT_UINT32: 'UINT32',
  DT_UINT64: 'UINT64',
  DT_BOOL: 'BOOL',
  DT_STRING: 'BYTES',
};

function tensorJson(t: Tensor): unknown {
  const values =
    t.datatype === 'BYTES'
      ? (t.data as Array<string | Uint8Array>).map((v) => (typeof v === 'string' ? v : { b64: Buffer.from(v).toString('base64') }))
      : jsonValues(t);
  return nest(values, t.shape);
}

/**
 * The predict body. One tensor with no input name to give goes name-free (TF Serving feeds a signature's only input
 * with it); named tensors go by name. Row format needs every named tensor to have the same batch size.
 */
export function predictBody(inputs: Tensor[], named: boolean, format: TfFormat, signatureName: string): Record<string, unknown> {
  const body: Record<string, unknown> = { signature_name: signatureName };
  if (format === 'columnar') {
    body.inputs = named ? Object.fromEntries(inputs.map((t) => [t.name, tensorJson(t)])) : tensorJson(inputs[0]);
    return body;
  }
  if (!named) {
    const t = inputs[0];
    body.instances = t.shape.length === 0 ? [tensorJson(t)] : tensorJson(t);
    return body;
  }
  const rows = inputs[0].shape[0] ?? 1;
  for (const t of inputs) {
    if ((t.shape[0] ?? 1) !== rows) throw badInput(`row format needs one batch size; input ${t.name} has ${t.shape[0]} rows, ${inputs[0].name} has ${rows}`);
  }
  const perInput = inputs.map((t) => ({ name: t.name, rows: t.shape.length ? (tensorJson(t) as unknown[]) : [tensorJson(t)] }));
  body.instances = Array.from({ length: rows }, (_, r) => Object.fromEntries(perInput.map((p) => [p.name, p.rows[r]])));
  return body;
}

const isB64 = (v: unknown): v is { b64: string } => !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { b64?: unknown }).b64 === 'string';

/** A JSON value from TF Serving as a tensor, in the signature's datatype when known. */
export function tfJsonToTensor(value: unknown, name: string, datatype?: Datatype): Tensor {
  const arr = Array.isArray(value) ? value : [value];
  const shape = Array.isArray(value) ? nestedShape(value) : [];
  const flat = flatten(arr, Array.isArray(value) ? shape : [1], `TF Serving output ${name}`);
  if (flat.some(isB64)) {
    return { name, datatype: 'BYTES', shape, data: flat.map((v) => (isB64(v) ? new Uint8Array(Buffer.from(v.b64, 'base64')) : String(v))) };
  }
  const t = ndarrayToTensor(arr, name, `TF Serving output ${name}`);
  t.shape = shape;
  if (datatype && datatype !== 'BYTES' && datatype !== t.datatype && t.datatype !== 'BYTES') {
    const dt = datatype as Exclude<Datatype, 'BYTES'>;
    t.data = fromNumbers(dt, dt === 'INT64' || dt === 'UINT64' ? Array.from(t.data as Float64Array, Math.round) : (t.data as Float64Array));
    t.datatype = datatype;
  }
  return t;
}

/**
 * The tensors in a predict answer. Row format gives a list of per-instance values, or of {output: value} objects
 * when the signature has several outputs; columnar gives a value or an {output: value} object.
 */
export function parsePredictResponse(body: unknown, single: string, dtypes: Record<string, Datatype>): Tensor[] {
  if (!body || typeof body !== 'object') throw internal('TF Serving answered something other than a JSON object');
  const b = body as { predictions?: unknown; outputs?: unknown };
  if (b.predictions !== undefined) {
    const p = b.predictions;
    if (Array.isArray(p) && p.length && p.every((r) => r && typeof r === 'object' && !Array.isArray(r) && !isB64(r))) {
      const keys = Object.keys(p[0] as object);
      return keys.map((k) => tfJsonToTensor((p as Array<Record<string, unknown>>).map((r) => r[k]), k, dtypes[k]));
    }
    return [tfJsonToTensor(p, single, dtypes[single])];
  }
  if (b.outputs !== undefined) {
    const o = b.outputs;
    if (o && typeof o === 'object' && !Array.isArray(o) && !isB64(o)) {
      return Object.entries(o as Record<string, unknown>).map(([k, v]) => tfJsonToTensor(v, k, dtypes[k]));
    }
    return [tfJsonToTensor(o, single, dtypes[single])];
  }
  throw internal('TF Serving answered with neither "predictions" nor "outputs"');
}
