/**
 * V2 Open Inference Protocol over REST: JSON bodies, and the binary tensor data extension (a JSON header of
 * Inference-Header-Content-Length bytes followed by raw tensors in order).
 */
import { randomUUID } from 'node:crypto';
import { badInput } from '../errors.js';
import type { InferenceRequest, InferenceResponse } from '../runtime.js';
import type { BytesArray, Datatype, Parameters, Tensor } from '../tensor.js';
import { elementCount, fromNumbers, isDatatype } from '../tensor.js';
import { jsonBody, JsonStream, numericJson, stringify } from './json-numbers.js';
import { flatten, jsonValues, nestedShape } from './ndarray.js';
import { decodeRaw, encodeRaw } from './raw.js';
import { parseStrictJson } from './json-text.js';
import { checkIntegers } from './int-ranges.js';
import { DecodedArray, SCAN_BODY, scanNumericList } from './ndarray-scan.js';

export const BINARY_HEADER = 'inference-header-content-length';

interface JsonInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  parameters?: Parameters;
  data?: unknown;
}

export function decodeV2Request(body: Buffer, headerLength?: number): InferenceRequest {
  const jsonPart = headerLength === undefined ? body : body.subarray(0, headerLength);
  if (headerLength !== undefined && (headerLength < 0 || headerLength > body.length)) {
    throw badInput(`Inference-Header-Content-Length ${headerLength} is outside the ${body.length}-byte body`);
  }
  // From SCAN_BODY up, a JSON body's first numeric "data" list is read straight into a typed array (ndarray-scan.ts).
  let parsed: unknown = headerLength === undefined && body.length >= SCAN_BODY ? scanNumericList(body, 'data', parseStrictJson, false, placeData) : undefined;
  if (parsed === undefined) {
    try {
      parsed = parseStrictJson(jsonPart.toString('utf8'));
    } catch (e) {
      throw badInput(`invalid JSON: ${(e as Error).message}`);
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badInput('the request must be a JSON object');
  const req = parsed as { id?: unknown; parameters?: unknown; inputs?: unknown; outputs?: unknown };
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw badInput('"inputs" must be a non-empty list');
  let binaryOffset = headerLength ?? 0;
  const inputs = req.inputs.map((raw: JsonInput, i: number): Tensor => {
    if (!raw || typeof raw !== 'object') throw badInput(`inputs[${i}] must be an object`);
    const name = typeof raw.name === 'string' ? raw.name : undefined;
    if (!name) throw badInput(`inputs[${i}] needs a "name"`);
    if (!isDatatype(raw.datatype)) throw badInput(`input ${name}: unknown datatype ${JSON.stringify(raw.datatype)}`);
    const datatype = raw.datatype;
    if (!Array.isArray(raw.shape) || !raw.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw badInput(`input ${name}: "shape" must be a list of non-negative integers`);
    }
    const shape = raw.shape as number[];
    const params = raw.parameters && typeof raw.parameters === 'object' ? raw.parameters : undefined;
    const binarySize = params?.binary_data_size;
    if (binarySize !== undefined) {
      if (headerLength === undefined) throw badInput(`input ${name}: binary_data_size without an Inference-Header-Content-Length header`);
      const size = Number(binarySize);
      if (!Number.isInteger(size) || size < 0 || binaryOffset + size > body.length) {
        throw badInput(`input ${name}: binary_data_size ${String(binarySize)} runs past the end of the body`);
      }
      const t = decodeRaw(name, datatype, shape, body.subarray(binaryOffset, binaryOffset + size));
      binaryOffset += size;
      if (params) t.parameters = params;
      return t;
    }
    if (raw.data === undefined) throw badInput(`input ${name}: no "data"`);
    return { name, datatype, shape, data: jsonData(name, datatype, shape, raw.data, params), ...(params ? { parameters: params } : {}) };
  });
  const outputs = Array.isArray(req.outputs)
    ? req.outputs.map((o: { name?: unknown; parameters?: Parameters }, i: number) => {
        if (!o || typeof o.name !== 'string') throw badInput(`outputs[${i}] needs a "name"`);
        return { name: o.name, ...(o.parameters ? { parameters: o.parameters } : {}) };
      })
    : undefined;
  const parameters = req.parameters && typeof req.parameters === 'object' ? (req.parameters as Parameters) : undefined;
  return {
    // kserve's InferRequest.to_rest() sends "id": null for no id.
    ...(req.id !== undefined && req.id !== null ? { id: String(req.id) } : {}),
    inputs,
    ...(outputs ? { outputs } : {}),
    ...(parameters ? { parameters } : {}),
  };
}

/** Puts a scanned list where the marker is: some input's "data". */
function placeData(msg: unknown, marker: string, value: DecodedArray): boolean {
  const inputs = (msg as { inputs?: unknown } | null)?.inputs;
  const input = Array.isArray(inputs) ? inputs.find((i: JsonInput | null) => i?.data === marker) : undefined;
  if (input) input.data = value;
  return input !== undefined;
}

function jsonData(name: string, datatype: Datatype, shape: number[], data: unknown, params?: Parameters): Tensor['data'] {
  const count = elementCount(shape);
  if (data instanceof DecodedArray) {
    if (data.data.length !== count) throw badInput(`input ${name}: shape [${shape}] needs ${count} elements, got ${data.data.length}`);
    if (datatype === 'FP64') return data.data;
    if (datatype !== 'BYTES' && datatype !== 'BOOL') {
      checkIntegers(name, datatype, data.data);
      return fromNumbers(datatype, data.data);
    }
    data = Array.from(data.data, (v) => (Number.isNaN(v) ? null : v)); // the general path words the 400
  }
  const flat = Array.isArray(data) ? flatten(data, nestedShape(data, `input ${name} data`), `input ${name} data`) : [data];
  if (flat.length !== count) throw badInput(`input ${name}: shape [${shape}] needs ${count} elements, got ${flat.length}`);
  switch (datatype) {
    case 'BYTES': {
      const base64 = params?.content_type === 'base64';
      return flat.map((v) => {
        if (typeof v !== 'string') throw badInput(`input ${name}: BYTES elements must be strings`);
        return base64 ? new Uint8Array(Buffer.from(v, 'base64')) : v;
      }) as BytesArray;
    }
    case 'BOOL':
      // JSON booleans only, as Triton and KServe take them: 0/1 or strings are refused.
      return fromNumbers(
        'BOOL',
        flat.map((v) => {
          if (typeof v === 'boolean') return v ? 1 : 0;
          throw badInput(`input ${name}: BOOL elements must be true or false, got ${JSON.stringify(v)}`);
        }),
      );
    case 'FP16':
    case 'FP32':
    case 'FP64':
    case 'BF16':
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (v === null) flat[i] = NaN; // MLServer's convention for NaN in JSON
        else if (typeof v !== 'number') throw badInput(`input ${name}: ${datatype} elements must be numbers, got ${JSON.stringify(v)}`);
      }
      return fromNumbers(datatype, flat);
    default:
      checkIntegers(name, datatype, flat);
      return fromNumbers(datatype, flat);
  }
}

export interface EncodedBody {
  body: Buffer | string | JsonStream;
  contentType: string;
  headers?: Record<string, string>;
}

/** Encodes a response; outputs asked for with binary_data (or binary_data_output) go in the binary section. */
export function encodeV2Response(
  response: InferenceResponse,
  request: InferenceRequest,
  model: { name: string; version?: string },
): EncodedBody {
  const defaultBinary = request.parameters?.binary_data_output === true;
  const wantsBinary = new Map((request.outputs ?? []).map((o) => [o.name, o.parameters?.binary_data]));
  const blobs: Uint8Array[] = [];
  const outputs = response.outputs.map((t) => {
    const binary = (wantsBinary.get(t.name) ?? defaultBinary) === true;
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (binary) {
      const raw = encodeRaw(t);
      blobs.push(raw);
      return { ...base, parameters: { ...t.parameters, binary_data_size: raw.length } };
    }
    return { ...base, ...(t.parameters && Object.keys(t.parameters).length ? { parameters: t.parameters } : {}), data: numericJson(t, false) ?? jsonValues(t) };
  });
  const doc = {
    model_name: model.name,
    ...(model.version ? { model_version: model.version } : {}),
    id: response.id ?? request.id ?? randomUUID(),
    ...(response.parameters ? { parameters: response.parameters } : {}),
    outputs,
  };
  if (!blobs.length) return { body: jsonBody(doc), contentType: 'application/json' };
  const header = Buffer.from(stringify(doc), 'utf8');
  return {
    body: Buffer.concat([header, ...blobs]),
    contentType: 'application/octet-stream',
    headers: { 'Inference-Header-Content-Length': String(header.length) },
  };
}
