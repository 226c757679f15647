/** KServe V1 protocol: {"instances": [...]} or {"inputs": [...]} in, {"predictions": [...]} out. */
import { badInput } from '../errors.js';
import type { InferenceRequest } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { numericJson } from './json-numbers.js';
import { jsonValues, ndarrayToTensor, nest } from './ndarray.js';
import { DecodedArray } from './ndarray-scan.js';

export function decodeV1Request(body: unknown): InferenceRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('the request must be a JSON object with "instances" or "inputs"');
  const b = body as { instances?: unknown; inputs?: unknown };
  // KServe prefers "inputs" when both are present.
  const key = b.inputs !== undefined ? 'inputs' : b.instances !== undefined ? 'instances' : undefined;
  if (!key) throw badInput('the request needs "instances" or "inputs"');
  const value = b[key];
  if (!Array.isArray(value) && !(value instanceof DecodedArray)) throw badInput(`Expected "${key}" to be a list`);
  return { inputs: [ndarrayToTensor(value, 'input-0', key)] };
}

export function encodeV1Response(outputs: Tensor[]): { predictions: unknown } {
  const out = outputs[0];
  return { predictions: out ? (numericJson(out, true) ?? nest(jsonValues(out), out.shape)) : [] };
}
