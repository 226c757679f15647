/**
 * One call from the CLI's point of view: data (rows, or a whole protocol body) in, the answer as printable JSON
 * and its first tensor (for `test`'s checks) out, for each protocol.
 */
import { jsonValues } from '@modelfleet/shared/codecs/ndarray';
import type { Datatype, Tensor } from '@modelfleet/shared/tensor';
import type { ModelClient } from '../client.js';
import { seldonData, seldonTensor, type SeldonMessage, type SeldonPayload } from '../seldon.js';
import type { InferOptions, InferResult } from '../v2.js';
import { toTensor, typedDatatype } from '../tensors.js';
import type { Protocol } from './args.js';
import { UsageError } from './args.js';

export interface RequestShape {
  payload: SeldonPayload;
  names?: string[];
  tags?: Record<string, unknown>;
  puid?: string;
  binary: boolean;
  datatype?: Datatype;
  inputName: string;
  outputs?: string[];
  explain: boolean;
}

export interface Answer {
  json: unknown;
  /** The first output / data tensor, when the answer carries one. */
  tensor?: Tensor;
}

/** A V2 answer as the JSON form prints it (typed arrays as flat lists). */
export function v2Json(r: InferResult): unknown {
  return { ...r, outputs: r.outputs.map((t) => ({ ...t, data: jsonValues(t) })) };
}

/** A V2 request body from the CLI: `inputs` entries may carry nested `data`; shapes and datatypes are optional. */
function v2Options(body: Record<string, any>, s: RequestShape): InferOptions {
  if (!Array.isArray(body.inputs)) throw new UsageError('a V2 request body needs "inputs"');
  return {
    inputs: body.inputs.map((i: any) => toTensor({ name: i.name, data: i.data, datatype: i.datatype, shape: i.shape, parameters: i.parameters })),
    outputs: body.outputs?.map((o: any) => (typeof o === 'string' ? o : o.name)) ?? s.outputs,
    parameters: body.parameters,
    id: body.id,
    binary: s.binary,
  };
}

export async function callOnce(client: ModelClient, protocol: Protocol, model: string, data: unknown, s: RequestShape): Promise<Answer> {
  const isBody = data !== null && typeof data === 'object' && !Array.isArray(data) && !typedDatatype(data);
  if (protocol === 'seldon') {
    let msg: SeldonMessage;
    if (isBody) msg = data as SeldonMessage;
    else {
      const meta = s.tags || s.puid ? { ...(s.tags ? { tags: s.tags } : {}), ...(s.puid ? { puid: s.puid } : {}) } : undefined;
      msg = seldonData(data as unknown[], { payload: s.payload, names: s.names, meta, datatype: s.datatype });
    }
    if (s.explain) return { json: await client.seldon.explain(msg) };
    const r = await client.seldon.predict(msg);
    return { json: r, tensor: r.data ? seldonTensor(r) : undefined };
  }
  if (protocol === 'v2') {
    if (s.explain) throw new UsageError('--explain: use --protocol seldon or kserve (on V2 the explainer is a model of its own: --model <model>-explainer, without --explain)');
    const o = isBody
      ? v2Options(data as Record<string, any>, s)
      : { inputs: [toTensor({ name: s.inputName, data: data as unknown[], datatype: s.datatype })], outputs: s.outputs, binary: s.binary };
    const r = await client.v2.infer(model, o);
    return { json: v2Json(r), tensor: r.outputs[0] };
  }
  const body = isBody ? (data as Record<string, unknown>) : { instances: data as unknown[] };
  if (s.explain) return { json: await client.kserve.explain(model, body) };
  const r = await client.kserve.predict(model, body);
  return { json: r, tensor: Array.isArray(r.predictions) ? toTensor({ name: 'predictions', data: r.predictions }) : undefined };
}
