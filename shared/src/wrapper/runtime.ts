import { fileURLToPath } from 'node:url';
import { badInput, internal, notReady, statusError, unavailable } from '../errors.js';
import { splitImage } from '../config/settings.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics/registry.js';
import { findPython } from '../python/interpreter.js';
import { sharedPythonPool, type PythonPool } from '../python/pool.js';
import type { Frame } from '../python/process.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime } from '../runtime.js';
import type { EncodeOptions, SeldonComponent, SeldonFeedback, SeldonMessage } from '../seldon/component.js';
import type { NumericArray, Tensor } from '../tensor.js';
import { jsonValues, nest, ndarrayToTensor } from '../codecs/ndarray.js';
import { mergeMeta, type SeldonMeta } from '../codecs/seldon-json.js';
import { Blob, fromReply, replyTensor, toFrame, type HookReply } from './frames.js';

let nextId = 0;

const USER_MODEL_LOADER = fileURLToPath(new URL('../../python/modelfleet_user_model.py', import.meta.url));

export interface UserModelOptions {
  /** `Model` (class Model in Model.py) or `package.module.Class`, as Seldon's MODEL_NAME / interface name. */
  interfaceName: string;
  /** The folder holding the class's module; it becomes the Python processes' working directory. */
  modelPath: string;
  /** Constructor keyword arguments (PREDICTIVE_UNIT_PARAMETERS, typed). */
  parameters: Record<string, unknown>;
  name: string;
  version?: string;
  workers: number;
  maxQueue: number;
  log: Logger;
  metrics: ServerMetrics;
  unit?: { id: string; image: string };
  /** INCLUDE_METRICS_IN_CLIENT_RESPONSE: user metrics also go back in meta.metrics (Seldon's default). */
  includeMetrics: boolean;
}

interface ClassInfo {
  class: string;
  hooks: string[];
  raw_hooks: string[];
  init_metadata: Record<string, unknown> | null;
  python: string;
}

/** The label Seldon's wrapper puts on user metrics for each hook. */
const METHOD_LABEL: Record<string, string> = {
  predict: 'predict',
  transform_input: 'inputtransform',
  transform_output: 'outputtransform',
  route: 'router',
  aggregate: 'aggregate',
  send_feedback: 'feedback',
  health_status: 'health',
};

interface Waiting {
  header: Record<string, unknown>;
  blob: Buffer;
  resolve: (f: Frame) => void;
  reject: (e: unknown) => void;
}

/**
 * A user's Python model class served with Seldon's language-wrapper contract: each of the server's shared Python
 * processes builds the class with the unit's parameters and calls its load(); Seldon calls become hook calls there.
 * Also a ModelRuntime, so V2 and KServe V1 requests reach `predict` with the request's tensor.
 */
export class UserModelRuntime implements ModelRuntime {
  readonly seldon: SeldonComponent;
  private pool?: PythonPool;
  private info?: ClassInfo;
  /** This class's id in the server's shared Python processes. */
  private readonly id: string;
  private stopListening = () => {};
  private readonly waiting: Waiting[] = [];

  constructor(private readonly opts: UserModelOptions) {
    this.seldon = new UserModelComponent(this, opts);
    this.id = `${opts.name}#class${++nextId}`;
  }

  async load(): Promise<void> {
    const { opts } = this;
    const py = await findPython(['numpy']);
    const pool = sharedPythonPool(py.bin, opts.workers);
    opts.log.info(`python class ${opts.interfaceName} from ${opts.modelPath}: ${py.bin} (Python ${py.version}), ${pool.processes} process(es) shared by the server's Python models`);
    try {
      this.info = (await pool.load(this.id, { loader: USER_MODEL_LOADER, path: opts.modelPath, options: { interface: opts.interfaceName, parameters: opts.parameters } })) as unknown as ClassInfo;
    } catch (err) {
      throw new Error(`loading class ${opts.interfaceName} from ${opts.modelPath} failed: ${(err as Error).message}`);
    }
    this.stopListening = pool.addListener(() => this.dispatch());
    this.pool = pool;
    opts.log.info(`${this.info.class}: hooks ${[...this.info.hooks, ...this.info.raw_hooks.map((h) => `${h}_raw`)].join(', ') || 'none'}`);
  }

  /** Whether the class defines `<hook>_raw` (then the whole message is sent along). */
  hasRaw(hook: string): boolean {
    return this.info?.raw_hooks.includes(hook) ?? false;
  }

  /** One hook call on the next free process (queued while all are busy). */
  call(header: Record<string, unknown>, blob: Buffer): Promise<Frame> {
    if (!this.pool) return Promise.reject(notReady(`class ${this.opts.interfaceName} is not loaded`));
    if (this.waiting.length >= this.opts.maxQueue) {
      return Promise.reject(unavailable(`server busy: ${this.waiting.length} requests already waiting for a Python worker`));
    }
    const done = new Promise<Frame>((resolve, reject) => this.waiting.push({ header: { ...header, op: 'call', model: this.id }, blob, resolve, reject }));
    this.dispatch();
    return done;
  }

  private dispatch(): void {
    const pool = this.pool;
    while (pool && this.waiting.length) {
      const proc = pool.acquire(this.id);
      if (!proc) return;
      const w = this.waiting.shift()!;
      pool.run(proc, w.header, w.blob).then(w.resolve, w.reject);
    }
  }

  /** Runs a hook and returns its reply, with user metrics recorded and user errors as status errors. */
  async hook(method: string, header: Record<string, unknown>, blob: Buffer): Promise<{ reply: HookReply; blob: Buffer }> {
    const frame = await this.call({ method, ...header }, blob);
    const error = frame.header.error as { kind: string; status?: number; reason?: string; message: string; body?: unknown; type?: string } | undefined;
    if (error) {
      if (error.kind === 'status') throw statusError(error.status ?? 500, error.message, error.reason, error.body ?? undefined);
      throw internal(`${error.type ?? 'error'}: ${error.message}`);
    }
    const reply = frame.header.ok as HookReply;
    if (reply.metrics?.length && METHOD_LABEL[method]) this.opts.metrics.user.record(METHOD_LABEL[method], reply.metrics);
    return { reply, blob: frame.blob };
  }

  /** V2 / KServe V1: the request's tensor is predict's X (several same-length inputs become its columns, named). */
  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    if (!request.inputs.length) throw badInput('the request holds no input tensor');
    const msgBlob = new Blob();
    const x = columns(request.inputs);
    const msg: Record<string, unknown> = { form: 'tensor', names: x.names, meta: {} };
    if (x.tensor.datatype === 'BYTES') msg.ndarray = nest(jsonValues(x.tensor), x.tensor.shape);
    else {
      const a = x.tensor.data as NumericArray;
      msg.tensor = { datatype: x.tensor.datatype, shape: x.tensor.shape, offset: msgBlob.add(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)), count: a.length };
    }
    const { reply, blob } = await this.hook('predict', { msgs: [msg] }, msgBlob.bytes());
    let output: Tensor;
    if (reply.kind === 'tensor') output = replyTensor(reply, blob);
    else if (reply.kind === 'ndarray') output = ndarrayToTensor(reply.value, 'predict', 'predict result');
    else if (reply.kind === 'strData') output = { name: 'predict', datatype: 'BYTES', shape: [1], data: [reply.value as string] };
    else if (reply.kind === 'jsonData') output = { name: 'predict', datatype: 'BYTES', shape: [1], data: [JSON.stringify(reply.value)] };
    else if (reply.kind === 'binData') output = { name: 'predict', datatype: 'BYTES', shape: [1], data: [new Uint8Array(blob)] };
    else throw internal(`predict answered ${reply.kind}, which has no tensor form`);
    output.name = 'predict';
    delete output.parameters;
    return { id: request.id, outputs: [output] };
  }

  metadata(): ModelMetadata {
    const md = this.info?.init_metadata ?? {};
    const tensors = (v: unknown) => (Array.isArray(v) ? v.filter((t) => t && typeof t === 'object' && 'datatype' in t) : []) as ModelMetadata['inputs'];
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: typeof md.platform === 'string' ? md.platform : 'python-class',
      inputs: tensors(md.inputs),
      outputs: tensors(md.outputs),
      parameters: { engine: 'python-class', class: this.info?.class ?? this.opts.interfaceName, hooks: this.info?.hooks ?? [], workers: this.opts.workers },
    };
  }

  /** Seldon's metadata document: init_metadata() over the defaults (MODEL_METADATA is merged by the server). */
  seldonMetadata(): Record<string, unknown> {
    const md = this.info?.init_metadata ?? {};
    const allowed = new Set(['name', 'versions', 'platform', 'inputs', 'outputs', 'custom']);
    const extra = Object.keys(md).filter((k) => !allowed.has(k));
    if (extra.length) throw statusError(500, `Model metadata unavailable: unknown key(s) ${extra.join(', ')}`, 'MICROSERVICE_BAD_METADATA');
    const image = splitImage(this.opts.unit?.image ?? '');
    return {
      name: image.name || this.opts.name,
      versions: image.version ? [image.version] : [],
      platform: '',
      inputs: [],
      outputs: [],
      custom: {},
      ...md,
    };
  }

  defaultOutputs(): string[] {
    return ['predict'];
  }

  async unload(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.stopListening();
    for (const w of this.waiting.splice(0)) w.reject(notReady(`class ${this.opts.interfaceName} is unloading`));
    await pool?.unload(this.id);
  }
}

/** V2 inputs as one X: a single input as is; several of the same row count side by side, their names as names. */
function columns(inputs: Tensor[]): { tensor: Tensor; names: string[] } {
  if (inputs.length === 1) return { tensor: inputs[0], names: [] };
  const rows = inputs[0].shape[0];
  const numeric = inputs.every((t) => t.datatype !== 'BYTES');
  if (!inputs.every((t) => t.shape[0] === rows && t.shape.length <= 2 && (t.shape.length === 1 || t.shape[1] === 1))) {
    throw badInput('several inputs are passed to predict as columns: each must be [n] or [n, 1] with the same n');
  }
  const data = numeric ? new Float64Array(rows * inputs.length) : new Array<string>(rows * inputs.length);
  inputs.forEach((t, j) => {
    for (let i = 0; i < rows; i++) {
      const v = (t.data as ArrayLike<unknown>)[i];
      (data as unknown[])[i * inputs.length + j] = numeric ? Number(v) : typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8');
    }
  });
  return { tensor: { name: 'X', datatype: numeric ? 'FP64' : 'BYTES', shape: [rows, inputs.length], data: data as Tensor['data'] }, names: inputs.map((t) => t.name) };
}

/** Seldon calls as hook calls on the class. */
class UserModelComponent implements SeldonComponent {
  constructor(
    private readonly runtime: UserModelRuntime,
    private readonly opts: UserModelOptions,
  ) {}

  private async dataHook(method: string, message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    const blob = new Blob();
    const header: Record<string, unknown> = { msgs: [toFrame(message, blob)] };
    if (this.runtime.hasRaw(method)) header.raw = message;
    const { reply, blob: out } = await this.runtime.hook(method, header, blob.bytes());
    return fromReply(reply, out, { request: message, unit: this.opts.unit, rawJson: options?.rawJson ?? false, includeMetrics: this.opts.includeMetrics });
  }

  predict(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    return this.dataHook('predict', message, options);
  }

  transformInput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    return this.dataHook('transform_input', message, options);
  }

  transformOutput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    return this.dataHook('transform_output', message, options);
  }

  route(message: SeldonMessage): Promise<SeldonMessage> {
    return this.dataHook('route', message);
  }

  async aggregate(messages: SeldonMessage[]): Promise<SeldonMessage> {
    if (!messages.length) throw badInput('aggregate needs at least one message');
    const blob = new Blob();
    const header: Record<string, unknown> = { msgs: messages.map((m) => toFrame(m, blob)) };
    if (this.runtime.hasRaw('aggregate')) header.raw = { seldonMessages: messages };
    const { reply, blob: out } = await this.runtime.hook('aggregate', header, blob.bytes());
    // Seldon: the answer takes the first message's form; meta merges every input's tags, paths and metrics.
    const meta = mergeMeta(messages.map((m) => (m.meta ?? {}) as SeldonMeta));
    return fromReply(reply, out, { request: { ...messages[0], meta }, unit: this.opts.unit, rawJson: false, includeMetrics: this.opts.includeMetrics });
  }

  async sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    const blob = new Blob();
    const request = feedback.request ?? {};
    const hasData = ['data', 'jsonData', 'strData', 'binData'].some((k) => (request as Record<string, unknown>)[k] !== undefined);
    // Seldon hands the hook the routing this unit chose for the request (from the response's meta).
    const routing = ((feedback.response?.meta as { routing?: Record<string, number> } | undefined)?.routing ?? {})[this.opts.unit?.id ?? '0'];
    const header: Record<string, unknown> = {
      msgs: hasData ? [toFrame(request, blob)] : [],
      truth: feedback.truth && Object.keys(feedback.truth).some((k) => k !== 'meta') ? toFrame(feedback.truth, blob) : null,
      reward: feedback.reward ?? 0,
      routing: routing ?? null,
    };
    if (this.runtime.hasRaw('send_feedback')) header.raw = feedback;
    const { reply, blob: out } = await this.runtime.hook('send_feedback', header, blob.bytes());
    return fromReply(reply, out, { request, unit: this.opts.unit, rawJson: false, includeMetrics: this.opts.includeMetrics });
  }

  async healthStatus(): Promise<SeldonMessage> {
    const { reply, blob } = await this.runtime.hook('health_status', {}, Buffer.alloc(0));
    return fromReply(reply, blob, { request: {}, unit: undefined, rawJson: false, includeMetrics: this.opts.includeMetrics });
  }

  seldonMetadata(): Record<string, unknown> {
    return this.runtime.seldonMetadata();
  }
}
