/**
 * Seldon protocol client: predict, feedback, explain, metadata and health over REST (JSON) or gRPC
 * (seldon.protos.Seldon). Messages are the proto3-JSON SeldonMessage in both directions whatever the transport, so
 * code does not change when the transport does; gRPC answers are turned back into that shape.
 */
import { seldonFromProto, seldonToProto } from '@modelfleet/shared/codecs/seldon-proto';
import { ndarrayToTensor } from '@modelfleet/shared/codecs/ndarray';
import { tensorToTftensor, tftensorToTensor } from '@modelfleet/shared/codecs/tftensor';
import { valueToJson } from '@modelfleet/shared/codecs/protobuf-struct';
import type { Tensor } from '@modelfleet/shared/tensor';
import { ClientError } from './errors.js';
import type { GrpcTransport } from './grpc.js';
import { parseJsonReply, type HttpTransport } from './http.js';
import { toNested, toTensor, type TensorInput } from './tensors.js';

type Obj = Record<string, any>;

export interface SeldonMeta {
  puid?: string;
  tags?: Record<string, unknown>;
  routing?: Record<string, number>;
  requestPath?: Record<string, string>;
  metrics?: Array<{ key: string; type?: string; value: number; tags?: Record<string, string> }>;
}

export interface SeldonMessage {
  data?: {
    names?: string[];
    ndarray?: unknown[];
    tensor?: { shape: number[]; values: number[] };
    tftensor?: Record<string, unknown>;
  };
  /** base64 text (as proto3 JSON writes bytes); a Buffer/Uint8Array is accepted in requests. */
  binData?: string | Uint8Array;
  strData?: string;
  jsonData?: unknown;
  meta?: SeldonMeta;
  status?: { code?: number; info?: string; reason?: string; status?: string | number };
}

export interface SeldonFeedback {
  request?: SeldonMessage;
  response?: SeldonMessage;
  reward?: number;
  truth?: SeldonMessage;
}

export type SeldonPayload = 'ndarray' | 'tensor' | 'tftensor';

/**
 * A SeldonMessage carrying `data` in the payload form asked for: `ndarray` (nested JSON), `tensor` (shape + flat
 * values) or `tftensor` (TensorFlow TensorProto, raw little-endian content, dtype from the data).
 */
export function seldonData(
  data: TensorInput['data'],
  opts: { payload?: SeldonPayload; names?: string[]; meta?: SeldonMeta; datatype?: TensorInput['datatype']; shape?: number[] } = {},
): SeldonMessage {
  const t = toTensor({ name: 'input-0', data, datatype: opts.datatype, shape: opts.shape });
  const names = opts.names ?? [];
  const payload = opts.payload ?? 'ndarray';
  let body: NonNullable<SeldonMessage['data']>;
  if (payload === 'ndarray') body = { names, ndarray: toNested(t) as unknown[] };
  else if (payload === 'tensor') {
    if (t.datatype === 'BYTES') throw new TypeError('a Seldon tensor holds numbers; send strings as ndarray');
    body = { names, tensor: { shape: t.shape, values: Array.from(t.data as ArrayLike<number | bigint>, Number) } };
  } else if (payload === 'tftensor') body = { names, tftensor: tensorToTftensor(t) };
  else throw new TypeError(`unknown Seldon payload "${String(payload)}" (ndarray, tensor, tftensor)`);
  return { data: body, ...(opts.meta ? { meta: opts.meta } : {}) };
}

/**
 * The tensor in an answer's `data` (any of the three forms), decoded with the servers' codecs. Unlike a request,
 * a 1-D answer stays 1-D: it is one value per row (class labels, regression), not one row.
 */
export function seldonTensor(message: SeldonMessage): Tensor {
  const d = message.data;
  if (!d) throw new TypeError(`the message holds no data (${Object.keys(message).join(', ') || 'nothing'})`);
  if (d.ndarray !== undefined) return ndarrayToTensor(d.ndarray, 'data');
  if (d.tensor !== undefined) return { name: 'data', datatype: 'FP64', shape: d.tensor.shape, data: Float64Array.from(d.tensor.values ?? []) };
  if (d.tftensor !== undefined) return tftensorToTensor(d.tftensor, 'data');
  throw new TypeError('"data" holds none of ndarray, tensor, tftensor');
}

/** A TensorProto as proto-loader gives it (snake_case, Buffers) in the proto3-JSON form REST answers carry. */
function tftensorToJson(tf: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(tf)) {
    // proto-loader fills every repeated field; proto3 JSON leaves empty and default ones out.
    if ((Array.isArray(v) && !v.length) || (Buffer.isBuffer(v) && !v.length) || v === null || v === 0 || v === '0') continue;
    const key = k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (Buffer.isBuffer(v)) out[key] = v.toString('base64');
    else if (Array.isArray(v) && v.length && Buffer.isBuffer(v[0])) out[key] = v.map((b: Buffer) => b.toString('base64'));
    else out[key] = v;
  }
  return out;
}

function fromWire(m: Obj): SeldonMessage {
  const j = seldonFromProto(m) as Obj;
  if (j.data?.tftensor) j.data.tftensor = tftensorToJson(j.data.tftensor);
  if (Buffer.isBuffer(j.binData)) j.binData = j.binData.toString('base64');
  return j as SeldonMessage;
}

/** binData given as bytes travels as base64 text in JSON. */
function forJson(m: SeldonMessage): SeldonMessage {
  return m.binData instanceof Uint8Array ? { ...m, binData: Buffer.from(m.binData).toString('base64') } : m;
}

function toWire(m: SeldonMessage): Obj {
  const j = forJson(m) as Obj;
  return seldonToProto(j);
}

const SELDON = 'seldon.protos.Seldon';

export class SeldonClient {
  constructor(
    private readonly http: HttpTransport | undefined,
    private readonly grpc: GrpcTransport | undefined,
  ) {}

  private post(path: string, body: unknown): Promise<any> {
    return this.http!.call({ method: 'POST', path, body: JSON.stringify(body) }).then((r) => parseJsonReply(`POST ${this.http!.url(path)}`, r));
  }

  predict(message: SeldonMessage): Promise<SeldonMessage> {
    if (this.grpc) return this.grpc.call(SELDON, 'Predict', toWire(message)).then(fromWire);
    return this.post('/api/v1.0/predictions', forJson(message));
  }

  feedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    if (this.grpc) {
      const f: Obj = { reward: feedback.reward ?? 0 };
      for (const k of ['request', 'response', 'truth'] as const) if (feedback[k]) f[k] = toWire(feedback[k]!);
      return this.grpc.call(SELDON, 'SendFeedback', f).then(fromWire);
    }
    const f: Obj = { ...feedback };
    for (const k of ['request', 'response', 'truth'] as const) if (feedback[k]) f[k] = forJson(feedback[k]!);
    return this.post('/api/v1.0/feedback', f);
  }

  /** POST /api/v1.0/explain (Seldon's explainer API). The Seldon .proto has no explain RPC: REST only. */
  explain(message: SeldonMessage): Promise<unknown> {
    if (!this.http) throw new ClientError('Seldon explain is a REST call (the Seldon .proto has no Explain RPC): give the client a url');
    return this.post('/api/v1.0/explain', forJson(message));
  }

  /** Model metadata (GET /api/v1.0/metadata; gRPC Seldon/ModelMetadata). A graph answers its graph metadata on REST. */
  async metadata(name = ''): Promise<Obj> {
    if (this.grpc) {
      const md = await this.grpc.call(SELDON, 'ModelMetadata', { name });
      return metadataFromWire(md);
    }
    const r = await this.http!.call({ method: 'GET', path: '/api/v1.0/metadata' });
    return parseJsonReply(`GET ${this.http!.url('/api/v1.0/metadata')}`, r);
  }

  /** A graph's metadata (gRPC Seldon/GraphMetadata; on REST the graph answers it at /api/v1.0/metadata). */
  async graphMetadata(): Promise<Obj> {
    if (!this.grpc) return this.metadata();
    const md = await this.grpc.call(SELDON, 'GraphMetadata', {});
    return {
      ...md,
      models: Object.fromEntries(Object.entries((md.models ?? {}) as Record<string, Obj>).map(([k, v]) => [k, metadataFromWire(v)])),
      inputs: (md.inputs ?? []).map(tensorMetaFromWire),
      outputs: (md.outputs ?? []).map(tensorMetaFromWire),
    };
  }

  /** GET /health/status: the model's own health answer (REST only, as in Seldon). */
  async health(): Promise<SeldonMessage> {
    if (!this.http) throw new ClientError('Seldon health status is a REST call: give the client a url');
    const r = await this.http.call({ method: 'GET', path: '/api/v1.0/health/status' });
    return parseJsonReply(`GET ${this.http.url('/api/v1.0/health/status')}`, r);
  }
}

function tensorMetaFromWire(t: Obj): Obj {
  return { ...t, ...(t.schema ? { schema: valueToJson(t.schema) } : {}), ...(t.shape ? { shape: t.shape.map(Number) } : {}) };
}

function metadataFromWire(md: Obj): Obj {
  return { ...md, inputs: (md.inputs ?? []).map(tensorMetaFromWire), outputs: (md.outputs ?? []).map(tensorMetaFromWire) };
}
