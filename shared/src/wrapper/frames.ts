/**
 * Seldon messages <-> the language wrapper's `call` frames (see shared/python/modelfleet_user_model.py). Numeric
 * data travels as raw bytes in the frame's blob; strings, JSON and meta in its header. The reply says what the
 * user's hook returned (tensor, ndarray, strData, binData, jsonData, a route, a raw message...), and is encoded here
 * the way Seldon's wrapper does: numeric results keep the request's data form.
 */
import { decodeSeldonMessage, emptyData, encodeSeldonData, responseMeta, type SeldonForm, type SeldonMeta } from '../codecs/seldon-json.js';
import { jsonValues, nest, nestedShape } from '../codecs/ndarray.js';
import { statusError } from '../errors.js';
import type { UserMetric } from '../metrics/user-metrics.js';
import type { SeldonMessage } from '../seldon/component.js';
import type { Datatype, NumericArray, Tensor } from '../tensor.js';
import { unpackNumeric } from '../python/tensors.js';

/** Collects the blob of one frame: each part's offset is where it starts. */
export class Blob {
  private parts: Buffer[] = [];
  private size = 0;

  add(bytes: Uint8Array): number {
    const offset = this.size;
    this.parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.size += bytes.byteLength;
    return offset;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

export interface FrameMessage {
  form: SeldonForm;
  names: string[];
  meta: SeldonMeta;
  tensor?: { datatype: Datatype; shape: number[]; offset: number; count: number };
  ndarray?: unknown;
  jsonData?: unknown;
  strData?: string;
  bin?: [number, number];
}

/** A request message for the Python side; validates it as the Seldon codec does. */
export function toFrame(message: SeldonMessage, blob: Blob): FrameMessage {
  const input = decodeSeldonMessage(message);
  const out: FrameMessage = { form: input.form, names: input.names, meta: input.meta };
  const t = input.tensor;
  if (t) {
    const data = message.data as { ndarray?: unknown; tensor?: { shape: number[] } };
    if (t.datatype === 'BYTES') {
      out.ndarray = data.ndarray ?? nest(jsonValues(t), t.shape);
    } else {
      // Hooks get the shape the caller sent (the codec turns a 1-D payload into one row).
      const shape = data.ndarray !== undefined ? nestedShape(data.ndarray) : data.tensor ? data.tensor.shape : t.shape;
      const a = t.data as NumericArray;
      out.tensor = { datatype: t.datatype, shape, offset: blob.add(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)), count: a.length };
    }
  } else if (input.form === 'jsonData') out.jsonData = input.jsonData;
  else if (input.form === 'strData') out.strData = input.strData;
  else if (input.form === 'binData') out.bin = [blob.add(input.binData!), input.binData!.length];
  return out;
}

/** What the Python side answers for one hook call. */
export interface HookReply {
  kind: 'tensor' | 'ndarray' | 'strData' | 'binData' | 'jsonData' | 'raw' | 'identity' | 'none' | 'route';
  tensor?: { datatype: Exclude<Datatype, 'BYTES'>; shape: number[]; offset: number; bytes: number };
  value?: unknown;
  names?: string[] | null;
  tags?: Record<string, unknown>;
  metrics?: UserMetric[];
}

export interface ReplyContext {
  /** The request the reply answers (its form and meta shape the response). */
  request: SeldonMessage;
  unit?: { id: string; image: string };
  rawJson: boolean;
  includeMetrics: boolean;
}

/** The reply as a SeldonMessage. A *_raw hook's message is answered as is; a status.code >= 400 in it is the HTTP status. */
export function fromReply(reply: HookReply, blob: Buffer, ctx: ReplyContext): SeldonMessage {
  if (reply.kind === 'raw') {
    const value = (reply.value ?? {}) as SeldonMessage;
    const code = (value.status as { code?: unknown } | undefined)?.code;
    if (typeof code === 'number' && code >= 400 && code < 600) {
      throw statusError(code, String((value.status as { info?: unknown }).info ?? `status ${code}`), undefined, value);
    }
    return value;
  }
  const requestMeta = (ctx.request.meta ?? {}) as SeldonMeta;
  if (reply.kind === 'identity') return { ...ctx.request, meta: responseMeta(requestMeta, ctx.unit) };
  const meta = responseMeta(requestMeta, ctx.unit, reply.tags && Object.keys(reply.tags).length ? reply.tags : undefined);
  if (ctx.includeMetrics && reply.metrics?.length) meta.metrics = [...(meta.metrics ?? []), ...reply.metrics];
  const form = requestForm(ctx.request);
  switch (reply.kind) {
    case 'tensor':
      return { data: encodeSeldonData(replyTensor(reply, blob), form, ctx.rawJson), meta };
    case 'ndarray': {
      const shape = nestedShape(reply.value);
      const names = reply.names ?? (shape.length >= 2 ? Array.from({ length: shape[shape.length - 1] }, (_, i) => `t:${i}`) : []);
      return { data: { names, ndarray: reply.value }, meta };
    }
    case 'route': {
      const n = reply.value as number;
      const data = form === 'tensor' ? { names: ['t:0'], tensor: { shape: [1, 1], values: [n] } } : { names: ['t:0'], ndarray: [[n]] };
      return { data, meta };
    }
    case 'strData':
      return { strData: reply.value as string, meta };
    case 'jsonData':
      return { jsonData: reply.value, meta };
    case 'binData':
      return { binData: blob.toString('base64'), meta };
    case 'none':
      return { data: emptyData(), meta };
  }
  throw new Error(`unknown reply kind ${String(reply.kind)}`);
}

/** A numeric reply as a tensor; the hook's names (class_names()/feature_names()) ride along for the encoder. */
export function replyTensor(reply: HookReply, blob: Buffer): Tensor {
  const [t] = unpackNumeric([{ ...reply.tensor!, name: 'predict' }], blob);
  return reply.names ? { ...t, parameters: { names: reply.names } } : t;
}

function requestForm(message: SeldonMessage): SeldonForm {
  const d = message.data as Record<string, unknown> | undefined;
  if (d) return d.tensor !== undefined ? 'tensor' : d.tftensor !== undefined ? 'tftensor' : 'ndarray';
  if (message.jsonData !== undefined) return 'jsonData';
  if (message.strData !== undefined) return 'strData';
  if (message.binData !== undefined) return 'binData';
  return 'none';
}
