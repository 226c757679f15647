/**
 * Seldon protocol messages (proto3 JSON of seldon.protos.SeldonMessage) to and from tensors. The response keeps the
 * request's data form, as Seldon's wrapper does: numeric results come back as ndarray/tensor/tftensor like the
 * request, anything else as ndarray.
 */
import { badInput } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { fromNumbers } from '../tensor.js';
import { numericJson } from './json-numbers.js';
import { jsonValues, ndarrayToTensor, nest } from './ndarray.js';
import { tensorToTftensor, tftensorToTensor } from './tftensor.js';

export type SeldonForm = 'ndarray' | 'tensor' | 'tftensor' | 'jsonData' | 'strData' | 'binData' | 'none';

export interface SeldonMeta {
  puid?: string;
  tags?: Record<string, unknown>;
  routing?: Record<string, number>;
  requestPath?: Record<string, string>;
  metrics?: unknown[];
}

export interface SeldonInput {
  form: SeldonForm;
  names: string[];
  tensor?: Tensor;
  jsonData?: unknown;
  strData?: string;
  binData?: Uint8Array;
  meta: SeldonMeta;
  /** The data was 1-D (decoded as one row): an identity answer (transforms) keeps it 1-D. */
  oneD?: boolean;
}

export const SELDON_INPUT_NAME = 'input-0';

/** Decodes a SeldonMessage. A 1-D data payload is one row of features (a batch of one), as users send it. */
export function decodeSeldonMessage(msg: unknown): SeldonInput {
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
    throw badInput('Invalid request data type: the body must be a JSON object (a SeldonMessage)');
  }
  const m = msg as Record<string, unknown>;
  const meta = decodeMeta(m.meta);
  if (m.data !== undefined) {
    if (!m.data || typeof m.data !== 'object') throw badInput('"data" must be an object with ndarray, tensor or tftensor');
    const d = m.data as Record<string, unknown>;
    const names = Array.isArray(d.names) ? d.names.map(String) : [];
    let form: SeldonForm;
    let tensor: Tensor;
    if (d.ndarray !== undefined) {
      form = 'ndarray';
      tensor = ndarrayToTensor(d.ndarray, SELDON_INPUT_NAME, 'data.ndarray');
    } else if (d.tensor !== undefined) {
      form = 'tensor';
      tensor = seldonTensor(d.tensor);
    } else if (d.tftensor !== undefined) {
      form = 'tftensor';
      tensor = tftensorToTensor(d.tftensor, SELDON_INPUT_NAME);
    } else {
      throw badInput('"data" holds none of ndarray, tensor, tftensor');
    }
    const oneD = tensor.shape.length === 1;
    if (oneD) tensor.shape = [1, tensor.shape[0]];
    // Column names travel with the tensor: runtimes with several named inputs (ONNX) feed columns by name.
    if (names.length) tensor.parameters = { ...tensor.parameters, names };
    return { form, names, tensor, meta, ...(oneD ? { oneD } : {}) };
  }
  if (m.jsonData !== undefined) return { form: 'jsonData', names: [], jsonData: m.jsonData, meta };
  if (typeof m.strData === 'string') return { form: 'strData', names: [], strData: m.strData, meta };
  if (typeof m.binData === 'string') return { form: 'binData', names: [], binData: Buffer.from(m.binData, 'base64'), meta };
  if (m.binData instanceof Uint8Array) return { form: 'binData', names: [], binData: m.binData, meta };
  throw badInput('Invalid request data type: expected one of data, jsonData, strData, binData');
}

function seldonTensor(t: unknown): Tensor {
  if (!t || typeof t !== 'object') throw badInput('data.tensor must be {"shape": [...], "values": [...]}');
  const { shape, values } = t as { shape?: unknown; values?: unknown };
  if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw badInput('data.tensor.shape must be a list of non-negative integers');
  }
  if (!Array.isArray(values)) throw badInput('data.tensor.values must be a list of numbers');
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (values.length !== count) throw badInput(`data.tensor shape [${shape}] holds ${count} values, got ${values.length}`);
  for (const v of values) if (typeof v !== 'number' && v !== null) throw badInput('data.tensor.values must be numbers');
  return { name: SELDON_INPUT_NAME, datatype: 'FP64', shape: shape as number[], data: fromNumbers('FP64', values.map((v) => v ?? NaN)) };
}

function decodeMeta(meta: unknown): SeldonMeta {
  if (meta === undefined || meta === null) return {};
  if (typeof meta !== 'object' || Array.isArray(meta)) throw badInput('"meta" must be an object');
  return meta as SeldonMeta;
}

const isNumeric = (t: Tensor) => t.datatype !== 'BYTES';

/** t:0 .. t:n-1, made once per width (every answer of a model has the same): JSON.stringify only reads them. */
const namesByWidth = new Map<number, string[]>();
function defaultNames(n: number): string[] {
  let names = namesByWidth.get(n);
  if (!names) {
    names = Array.from({ length: n }, (_, i) => `t:${i}`);
    if (n <= 4096) namesByWidth.set(n, names);
  }
  return names;
}

/** The `data` member for an output tensor, mirroring the request's form. */
export function encodeSeldonData(output: Tensor, requestForm: SeldonForm, rawJson = true): Record<string, unknown> {
  const names =
    output.shape.length >= 2
      ? Array.isArray(output.parameters?.names)
        ? (output.parameters!.names as string[])
        : defaultNames(output.shape[output.shape.length - 1])
      : [];
  const dataForm = requestForm === 'ndarray' || requestForm === 'tensor' || requestForm === 'tftensor';
  let form: 'ndarray' | 'tensor' | 'tftensor';
  if (!isNumeric(output)) form = 'ndarray';
  else if (dataForm) form = requestForm;
  else form = 'tensor';
  if (form === 'tensor') {
    const values = (rawJson ? numericJson(output, false, true) : undefined) ?? jsonValues(output).map((v) => (typeof v === 'boolean' ? Number(v) : v));
    return { names, tensor: { shape: output.shape, values } };
  }
  if (form === 'tftensor') return { names, tftensor: tensorToTftensor(output) };
  return { names, ndarray: (rawJson ? numericJson(output, true, true) : undefined) ?? nest(jsonValues(output), output.shape) };
}

/**
 * Response meta: puid echoed if sent, tags and metrics carried, this unit added to requestPath. `routing` is not
 * echoed: Seldon's wrapper does not (the graph executor records routing itself).
 */
export function responseMeta(request: SeldonMeta, unit?: { id: string; image: string }, tags?: Record<string, unknown>): SeldonMeta {
  const meta: SeldonMeta = {};
  if (request.metrics) meta.metrics = request.metrics;
  if (request.puid) meta.puid = request.puid;
  if (unit || request.requestPath) meta.requestPath = { ...request.requestPath, ...(unit ? { [unit.id]: unit.image } : {}) };
  if (request.tags || tags) meta.tags = { ...request.tags, ...tags };
  return meta;
}

/** Meta of an answer built from several messages (aggregate): tags and request paths merged, metrics concatenated,
 * the first message's puid. */
export function mergeMeta(metas: readonly SeldonMeta[]): SeldonMeta {
  const out: SeldonMeta = {};
  for (const m of metas) {
    if (m.tags) out.tags = { ...out.tags, ...m.tags };
    if (m.requestPath) out.requestPath = { ...out.requestPath, ...m.requestPath };
    if (m.metrics?.length) out.metrics = [...(out.metrics ?? []), ...m.metrics];
    if (m.puid && !out.puid) out.puid = m.puid;
  }
  return out;
}

/** The data of an answer with nothing in it (feedback acknowledgements), as Seldon's wrapper writes it. */
export const emptyData = () => ({ names: [] as string[], tensor: { shape: [0], values: [] as number[] } });

/** Seldon's failure body: code is always -1 and status the FAILURE flag 1, as the Python wrapper answers. */
export function seldonErrorBody(info: string, reason: string): Record<string, unknown> {
  return { status: { code: -1, info, reason, status: 1 } };
}
