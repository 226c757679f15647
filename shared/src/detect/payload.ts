/**
 * The instances a detector scores, from what the request logger sends (the model's request payload) or from a
 * plain predict request: Seldon `data.ndarray|tensor|tftensor`, TensorFlow/KServe V1 `instances`, V2 `inputs`
 * (the first input, as alibi-detect-server takes it). The form is read from the CloudEvent's `protocol` extension
 * when the logger sets it, else from the body's keys. Rows are the first dimension; the rest is flattened.
 */
import { badInput } from '../errors.js';
import { decodeSeldonMessage } from '../codecs/seldon-json.js';
import { decodeV1Request } from '../codecs/kserve-v1.js';
import { decodeV2Request } from '../codecs/v2.js';
import { asFloat64, type Tensor } from '../tensor.js';
import type { Matrix } from './matrix.js';

type Form = 'seldon' | 'tensorflow' | 'v2';

function formOf(name: string): Form | undefined {
  const n = name.toLowerCase();
  if (n.startsWith('seldon')) return 'seldon';
  if (n.startsWith('tensorflow')) return 'tensorflow';
  if (n === 'v2' || n.startsWith('kfserving') || n.startsWith('kserve')) return 'v2';
  return undefined;
}

/**
 * `eventProtocol`: the logger's `protocol` extension (seldon | tensorflow | v2), which wins; otherwise the body's
 * keys decide, and `serverProtocol` (--protocol) only when they do not.
 */
export function instancesOf(body: Buffer, eventProtocol?: string, serverProtocol = 'tensorflow.http'): Matrix {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw badInput('the body is not JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw badInput('the body must be a JSON object');
  const o = json as Record<string, unknown>;
  const isV2Inputs = Array.isArray(o.inputs) && o.inputs.every((i) => i && typeof i === 'object' && !Array.isArray(i) && 'datatype' in i);
  const byBody: Form | undefined =
    ['data', 'jsonData', 'strData', 'binData'].some((k) => k in o) ? 'seldon' : o.instances !== undefined ? 'tensorflow' : isV2Inputs ? 'v2' : o.inputs !== undefined ? 'tensorflow' : undefined;
  const form = (eventProtocol && formOf(eventProtocol)) || byBody || formOf(serverProtocol) || 'seldon';
  let tensor: Tensor | undefined;
  if (form === 'v2') tensor = decodeV2Request(body).inputs[0];
  else if (form === 'tensorflow') tensor = decodeV1Request(o).inputs[0];
  else {
    const m = decodeSeldonMessage(o);
    if (!m.tensor) throw badInput(`a ${m.form} payload has no numeric instances to score`);
    tensor = m.tensor;
  }
  if (!tensor) throw badInput('the request has no inputs');
  if (tensor.datatype === 'BYTES') throw badInput('BYTES inputs cannot be scored by a numeric detector');
  const shape = tensor.shape.length === 1 ? [1, tensor.shape[0]] : tensor.shape;
  const rows = shape[0];
  const cols = rows === 0 ? 0 : shape.slice(1).reduce((p, d) => p * d, 1);
  const data = asFloat64(tensor);
  for (const v of data) if (!Number.isFinite(v)) throw badInput('the instances hold a value that is not a finite number');
  return { data, rows, cols };
}
