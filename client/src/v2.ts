/**
 * V2 Open Inference Protocol client: infer (JSON, or the binary tensor data extension; gRPC with raw contents),
 * server/model metadata, liveness and readiness, and the model repository extension where the server has it.
 * Inputs are typed arrays or nested arrays; outputs come back as the servers' tensor type (typed arrays).
 */
import { decodeRaw, encodeRaw } from '@modelfleet/shared/codecs/raw';
import { parametersFromProto, parametersToProto } from '@modelfleet/shared/codecs/v2-proto';
import { jsonValues } from '@modelfleet/shared/codecs/ndarray';
import type { Datatype, Parameters, Tensor } from '@modelfleet/shared/tensor';
import { fromNumbers, isDatatype } from '@modelfleet/shared/tensor';
import { ClientError } from './errors.js';
import type { GrpcTransport } from './grpc.js';
import { parseJsonReply, type HttpReply, type HttpTransport } from './http.js';
import { toTensor, type TensorInput } from './tensors.js';

type Obj = Record<string, any>;

const BINARY_HEADER = 'inference-header-content-length';
const V2 = 'inference.GRPCInferenceService';

export interface InferOptions {
  inputs: Array<TensorInput | Tensor>;
  /** Outputs to return (names), default every output the model answers. */
  outputs?: string[];
  parameters?: Parameters;
  id?: string;
  version?: string;
  /**
   * REST: send inputs and ask for outputs in the binary tensor data extension instead of JSON (gRPC always
   * carries raw little-endian contents).
   */
  binary?: boolean;
}

export interface InferResult {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Parameters;
}

export interface V2ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  parameters?: Parameters;
}

export interface RepositoryEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

const modelPath = (model: string, version?: string) =>
  `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;

function asTensor(i: TensorInput | Tensor): Tensor {
  return toTensor(i as TensorInput);
}

/** An output's JSON `data` (nested or flat) as a typed array of its datatype. */
function outputData(name: string, datatype: Datatype, data: unknown): Tensor['data'] {
  const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data];
  if (datatype === 'BYTES') return flat.map(String);
  if (datatype === 'BOOL') return fromNumbers('BOOL', flat.map((v) => (v ? 1 : 0)));
  // NaN travels as null in JSON (MLServer's convention, and ours).
  return fromNumbers(datatype, flat.map((v) => (v === null ? NaN : v)));
}

export function decodeRestInfer(reply: HttpReply, target: string): InferResult {
  const headerLen = reply.headers[BINARY_HEADER];
  const n = headerLen === undefined ? reply.body.length : Number(headerLen);
  if (!Number.isInteger(n) || n < 0 || n > reply.body.length) {
    throw new ClientError(`${target}: bad ${BINARY_HEADER} ${String(headerLen)} for a ${reply.body.length}-byte answer`, { status: reply.status, target });
  }
  const head = parseJsonReply(target, { ...reply, body: reply.body.subarray(0, n) }) as Obj;
  if (!head || !Array.isArray(head.outputs)) throw new ClientError(`${target}: the answer has no "outputs"`, { status: reply.status, body: head, target });
  let offset = n;
  const outputs = (head.outputs as Obj[]).map((o): Tensor => {
    if (!isDatatype(o.datatype)) throw new ClientError(`${target}: output ${o.name} has unknown datatype ${o.datatype}`, { body: head, target });
    const { binary_data_size: size, ...rest } = (o.parameters ?? {}) as Obj;
    const parameters = Object.keys(rest).length ? { parameters: rest } : {};
    if (size !== undefined) {
      const t = decodeRaw(o.name, o.datatype, o.shape, reply.body.subarray(offset, offset + Number(size)));
      offset += Number(size);
      return { ...t, ...parameters };
    }
    return { name: o.name, datatype: o.datatype, shape: o.shape, data: outputData(o.name, o.datatype, o.data), ...parameters };
  });
  return { ...head, outputs } as InferResult;
}

/** The REST request body: JSON, or a JSON header followed by raw tensors (binary extension). */
export function encodeRestInfer(o: InferOptions): { body: Buffer | string; headers: Record<string, string>; contentType: string } {
  const tensors = o.inputs.map(asTensor);
  const blobs: Uint8Array[] = [];
  const inputs = tensors.map((t) => {
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (o.binary) {
      const raw = encodeRaw(t);
      blobs.push(raw);
      return { ...base, parameters: { ...t.parameters, binary_data_size: raw.length } };
    }
    return { ...base, ...(t.parameters ? { parameters: t.parameters } : {}), data: jsonValues(t) };
  });
  const head = JSON.stringify({
    ...(o.id ? { id: o.id } : {}),
    ...(o.parameters || (o.binary && !o.outputs) ? { parameters: { ...o.parameters, ...(o.binary && !o.outputs ? { binary_data_output: true } : {}) } } : {}),
    inputs,
    ...(o.outputs ? { outputs: o.outputs.map((name) => ({ name, ...(o.binary ? { parameters: { binary_data: true } } : {}) })) } : {}),
  });
  if (!o.binary) return { body: head, headers: {}, contentType: 'application/json' };
  const h = Buffer.from(head);
  return { body: Buffer.concat([h, ...blobs]), headers: { [BINARY_HEADER]: String(h.length) }, contentType: 'application/octet-stream' };
}

const CONTENTS_FIELDS = ['bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents'];

function fromGrpcInfer(m: Obj): InferResult {
  const raws: Buffer[] = m.raw_output_contents ?? [];
  const outputs = (m.outputs ?? []).map((o: Obj, i: number): Tensor => {
    const shape = (o.shape ?? []).map(Number);
    const params = parametersFromProto(o.parameters);
    const parameters = params ? { parameters: params } : {};
    if (raws.length) return { ...decodeRaw(o.name, o.datatype, shape, raws[i]), ...parameters };
    const field = CONTENTS_FIELDS.find((f) => o.contents?.[f]?.length) ?? '';
    const values: unknown[] = o.contents?.[field] ?? [];
    const data =
      o.datatype === 'BYTES' ? values.map((b) => (b as Buffer).toString('utf8')) : outputData(o.name, o.datatype, values);
    return { name: o.name, datatype: o.datatype, shape, data, ...parameters };
  });
  const parameters = parametersFromProto(m.parameters);
  return {
    model_name: m.model_name,
    ...(m.model_version ? { model_version: m.model_version } : {}),
    ...(m.id ? { id: m.id } : {}),
    ...(parameters ? { parameters } : {}),
    outputs,
  };
}

export class V2Client {
  constructor(
    private readonly http: HttpTransport | undefined,
    private readonly grpc: GrpcTransport | undefined,
  ) {}

  async infer(model: string, o: InferOptions): Promise<InferResult> {
    if (this.grpc) {
      const tensors = o.inputs.map(asTensor);
      const request = {
        model_name: model,
        model_version: o.version ?? '',
        id: o.id ?? '',
        parameters: parametersToProto(o.parameters),
        inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String), parameters: parametersToProto(t.parameters) })),
        outputs: (o.outputs ?? []).map((name) => ({ name })),
        raw_input_contents: tensors.map((t) => Buffer.from(encodeRaw(t))),
      };
      return fromGrpcInfer(await this.grpc.call(V2, 'ModelInfer', request));
    }
    const path = `${modelPath(model, o.version)}/infer`;
    const { body, headers, contentType } = encodeRestInfer(o);
    const reply = await this.http!.call({ method: 'POST', path, body, headers, contentType });
    return decodeRestInfer(reply, `POST ${this.http!.url(path)}`);
  }

  private async getJson(path: string, accept?: number[]): Promise<{ status: number; body: any }> {
    const r = await this.http!.call({ method: 'GET', path, accept });
    return { status: r.status, body: parseJsonReply(`GET ${this.http!.url(path)}`, r) };
  }

  async serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    if (this.grpc) return this.grpc.call(V2, 'ServerMetadata', {}) as Promise<any>;
    return (await this.getJson('/v2')).body;
  }

  async modelMetadata(model: string, version?: string): Promise<V2ModelMetadata> {
    if (this.grpc) {
      const md = await this.grpc.call(V2, 'ModelMetadata', { name: model, version: version ?? '' });
      const t = (x: Obj) => ({ name: x.name, datatype: x.datatype, shape: (x.shape ?? []).map(Number) });
      return { name: md.name, versions: md.versions ?? [], platform: md.platform ?? '', inputs: (md.inputs ?? []).map(t), outputs: (md.outputs ?? []).map(t) };
    }
    return (await this.getJson(modelPath(model, version))).body;
  }

  async serverLive(): Promise<boolean> {
    if (this.grpc) return Boolean((await this.grpc.call(V2, 'ServerLive', {})).live);
    return (await this.getJson('/v2/health/live', [503])).status === 200;
  }

  async serverReady(): Promise<boolean> {
    if (this.grpc) return Boolean((await this.grpc.call(V2, 'ServerReady', {})).ready);
    return (await this.getJson('/v2/health/ready', [503])).status === 200;
  }

  async modelReady(model: string, version?: string): Promise<boolean> {
    if (this.grpc) return Boolean((await this.grpc.call(V2, 'ModelReady', { name: model, version: version ?? '' })).ready);
    return (await this.getJson(`${modelPath(model, version)}/ready`, [503])).status === 200;
  }

  /** Model repository extension: the models the server knows and their states. */
  async repositoryIndex(opts: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    if (this.grpc) return (await this.grpcRepository('RepositoryIndex', { ...(opts.ready !== undefined ? { ready: opts.ready } : {}) })).models ?? [];
    const path = '/v2/repository/index';
    const r = await this.http!.call({ method: 'POST', path, body: JSON.stringify(opts) });
    return parseJsonReply(`POST ${this.http!.url(path)}`, r);
  }

  async loadModel(model: string, parameters?: Parameters): Promise<void> {
    if (this.grpc) {
      await this.grpcRepository('RepositoryModelLoad', { model_name: model, parameters: parametersToProto(parameters) });
      return;
    }
    const path = `/v2/repository/models/${encodeURIComponent(model)}/load`;
    await this.http!.call({ method: 'POST', path, body: JSON.stringify(parameters ? { parameters } : {}) });
  }

  async unloadModel(model: string, parameters?: Parameters): Promise<void> {
    if (this.grpc) {
      await this.grpcRepository('RepositoryModelUnload', { model_name: model, parameters: parametersToProto(parameters) });
      return;
    }
    const path = `/v2/repository/models/${encodeURIComponent(model)}/unload`;
    await this.http!.call({ method: 'POST', path, body: JSON.stringify(parameters ? { parameters } : {}) });
  }

  /** Triton's repository RPCs, on GRPCInferenceService (our grpc_service.proto has them). */
  private grpcRepository(method: string, request: Obj): Promise<Obj> {
    return this.grpc!.call(V2, method, request);
  }
}
