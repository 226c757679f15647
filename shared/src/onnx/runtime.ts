import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type * as Ort from 'onnxruntime-node';
import { ConfigError } from '../config/parameters.js';
import { badInput, internal, notReady, ServingError, unavailable } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName, TensorMetadata } from '../runtime.js';
import type { Parameters, Tensor } from '../tensor.js';
import { findOnnxFile } from './find.js';
import { splitByNames } from './names.js';
import { onnxThreads, type OnnxThreads } from './settings.js';
import { fromOrt, ORT_TO_V2, toOrt, type OrtInputInfo, type OrtTensorLike } from './tensors.js';
import { rewriteZipMaps, type ZipMapRewrite } from './zipmap.js';
import type { OnnxTask, OnnxTaskResult } from './pool-worker.js';
import { ONNX_CHANNEL, sharedThreads, type SharedThreads } from '../parallel/shared-threads.js';

const WORKER = fileURLToPath(new URL('./pool-worker.js', import.meta.url));
let nextId = 0;

export interface OnnxRuntimeOptions extends OnnxThreads {
  /** An .onnx file, or a folder holding model.onnx or exactly one *.onnx. */
  modelPath: string;
  name?: string;
  version?: string;
  /** The metadata's platform (default "onnx"). */
  platform?: string;
  /** Outputs each protocol gets when a request names none; default: every output for V2, the first for the others. */
  defaultOutputs?: (protocol: ProtocolName) => string[];
  /** Extra facts for the metadata document. */
  parameters?: Parameters;
  log?: Logger;
  /**
   * Worker threads (each with its own session) for requests estimated to take longer than inlineBudgetUs; 0 (the
   * default) runs every request on the event loop. See README "ONNX engine" for when this pays.
   */
  workers?: number;
  /** Requests estimated (from a calibration at load) to take at most this long run inline. Default 1000 us. */
  inlineBudgetUs?: number;
  /** Requests waiting for a worker before new ones are refused (503). Default 1000. */
  maxQueue?: number;
}

interface OutputInfo {
  name: string;
  type?: string;
  shape: ReadonlyArray<number | string>;
  labels?: Array<string | number>;
}

/** Time inside session.run, so operators (and the bench) can see how much of a request the model itself takes. */
interface RunStats {
  runs: number;
  totalMs: number;
}

/**
 * Serves an ONNX model with onnxruntime-node. session.run is synchronous inside the binding (it is only deferred
 * with setImmediate), so a run holds the event loop for the model's compute time: small requests run inline (a
 * worker hop costs more than they do), large ones in a worker pool. README "ONNX engine" has the measurements.
 */
export class OnnxRuntime implements ModelRuntime {
  private session?: Ort.InferenceSession;
  private ort?: typeof Ort;
  private file?: string;
  private inputs: OrtInputInfo[] = [];
  private outputs: OutputInfo[] = [];
  private zipmaps: ZipMapRewrite[] = [];
  private readonly stats: RunStats = { runs: 0, totalMs: 0 };
  private pool?: SharedThreads;
  /** This model in the server's shared threads: its id, bytes (shared memory) and session options there. */
  private readonly id = `onnx#${++nextId}`;
  private shared?: { model: Uint8Array; options: Ort.InferenceSession.SessionOptions };
  /** Estimated session.run cost (fixed + per batch row), when calibration could run the model. */
  private cost?: RunCost;
  private readonly threads: OnnxThreads;
  private readonly log: Logger;

  constructor(private readonly opts: OnnxRuntimeOptions) {
    const fromEnv = onnxThreads({});
    this.threads = { intraOpThreads: opts.intraOpThreads ?? fromEnv.intraOpThreads, interOpThreads: opts.interOpThreads ?? fromEnv.interOpThreads };
    this.log = opts.log ?? createLogger('onnx');
  }

  get name(): string {
    return this.opts.name ?? 'model';
  }

  async load(): Promise<void> {
    const file = findOnnxFile(this.opts.modelPath);
    const rewritten = rewriteZipMaps(await readFile(file));
    // Imported here so servers that never serve ONNX do not load the native library.
    const ort = await import('onnxruntime-node');
    const { intraOpThreads, interOpThreads } = this.threads;
    let session: Ort.InferenceSession;
    const options: Ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
      ...(interOpThreads ? { interOpNumThreads: interOpThreads, executionMode: interOpThreads > 1 ? 'parallel' : 'sequential' } : {}),
    };
    try {
      session = await ort.InferenceSession.create(rewritten.bytes, options);
    } catch (err) {
      throw new ConfigError(`onnxruntime cannot load ${file}: ${(err as Error).message}`);
    }
    const inputs: OrtInputInfo[] = [];
    for (const m of session.inputMetadata) {
      if (!m.isTensor) throw new ConfigError(`${file}: input ${m.name} is not a tensor (sequence or map), which onnxruntime-node cannot feed`);
      if (!ORT_TO_V2[m.type]) throw new ConfigError(`${file}: input ${m.name} has ONNX type ${m.type}, which has no V2 datatype`);
      inputs.push({ name: m.name, type: m.type, shape: m.shape });
    }
    const outputs: OutputInfo[] = [];
    for (const m of session.outputMetadata) {
      const zipmap = rewritten.zipmaps.find((z) => z.output === m.name);
      if (!m.isTensor) {
        this.log.warn(`output ${m.name} is not a tensor (sequence or map): onnxruntime-node cannot return it, so it is not served`);
        continue;
      }
      if (!ORT_TO_V2[m.type]) {
        this.log.warn(`output ${m.name} has ONNX type ${m.type}, which has no V2 datatype here, so it is not served`);
        continue;
      }
      outputs.push({ name: m.name, type: m.type, shape: m.shape, ...(zipmap ? { labels: zipmap.labels } : {}) });
    }
    if (!outputs.length) throw new ConfigError(`${file}: no output is a tensor, so nothing can be served`);
    this.ort = ort;
    this.session = session;
    this.file = file;
    this.inputs = inputs;
    this.outputs = outputs;
    this.zipmaps = rewritten.zipmaps;
    for (const z of rewritten.zipmaps) {
      this.log.info(`ZipMap output ${z.output} is served as a [N, ${z.labels.length}] probability tensor (columns: classes ${z.labels.join(', ')})`);
    }
    const workers = this.opts.workers ?? 0;
    if (workers > 0) {
      this.cost = await calibrate(ort, session, inputs, this.log);
      const bytes = new Uint8Array(new SharedArrayBuffer(rewritten.bytes.byteLength));
      bytes.set(rewritten.bytes);
      // Threads run side by side: one intra-op thread each unless configured, so they do not fight over cores.
      this.shared = { model: bytes, options: { ...options, intraOpNumThreads: intraOpThreads ?? 1 } };
      this.pool = sharedThreads(WORKER, ONNX_CHANNEL, workers, this.opts.maxQueue ?? 1000, this.id);
      const budget = this.opts.inlineBudgetUs ?? 1000;
      const { cost } = this;
      this.log.info(
        cost === undefined
          ? `onnx engine: calibration could not run the model on zeros, so every request runs inline`
          : `onnx engine: session.run ~ ${cost.fixedUs.toFixed(0)} us + ${cost.perRowUs.toPrecision(2)} us/row, so requests up to ` +
              `${Math.max(0, Math.floor((budget - cost.fixedUs) / cost.perRowUs))} rows run inline, larger ones on ${workers} worker thread(s)`,
      );
    }
    const threads = `intra-op threads ${intraOpThreads ?? 'default'}, inter-op threads ${interOpThreads ?? 'default'}`;
    this.log.info(
      `onnx engine: ${file} (onnxruntime ${ort.env.versions.node}, ${threads}); ` +
        `inputs ${inputs.map((i) => `${i.name}:${i.type}${shapeText(i.shape)}`).join(', ')}; ` +
        `outputs ${outputs.map((o) => `${o.name}:${o.type}${shapeText(o.shape)}`).join(', ')}`,
    );
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const { session, ort } = this;
    if (!session || !ort) throw notReady(`model ${this.name} is not loaded`);
    const wanted = request.outputs?.length ? request.outputs.map((o) => o.name) : this.defaultOutputs('v2');
    for (const name of wanted) {
      if (!this.outputs.some((o) => o.name === name)) {
        throw badInput(`model ${this.name} has no output "${name}"; available: ${this.outputs.map((o) => o.name).join(', ')}`);
      }
    }
    const feeds: Record<string, OrtTensorLike> = {};
    for (const [info, tensor] of this.match(request.inputs)) feeds[info.name] = toOrt(tensor, info);
    const rows = Object.values(feeds)[0]?.dims[0] ?? 1;
    const { cost } = this;
    const inline = !this.pool || cost === undefined || cost.fixedUs + rows * cost.perRowUs <= (this.opts.inlineBudgetUs ?? 1000);
    const results = inline ? await this.runInline(ort, session, feeds, wanted) : await this.runInPool({ id: this.id, ...this.shared!, feeds, fetches: wanted });
    return { id: request.id, outputs: wanted.map((name) => fromOrt(name, results[name])) };
  }

  private async runInline(ort: typeof Ort, session: Ort.InferenceSession, feeds: Record<string, OrtTensorLike>, fetches: string[]): Promise<Record<string, OrtTensorLike>> {
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    // session.run defers the (synchronous) native run with setImmediate, so timing around the await would count the
    // wait behind other queued I/O. This immediate is queued just before session.run's own, so it marks the start.
    let started = 0;
    setImmediate(() => (started = performance.now()));
    try {
      return (await session.run(ortFeeds, fetches)) as unknown as Record<string, OrtTensorLike>;
    } catch (err) {
      throw runError(err);
    } finally {
      if (started) {
        this.stats.runs++;
        this.stats.totalMs += performance.now() - started;
      }
    }
  }

  private async runInPool(task: OnnxTask): Promise<Record<string, OrtTensorLike>> {
    let result: OnnxTaskResult;
    const pool = this.pool!.pool; // starts the threads if they have not started yet
    try {
      result = (await pool.run(task)) as OnnxTaskResult;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(msg)) throw unavailable(`server busy: ${pool.queueSize} requests already queued`);
      throw internal(`onnx worker: ${msg}`, err);
    }
    if ('runError' in result) throw runError(new Error(result.runError));
    return result.ok;
  }

  /** Pairs each model input with a request tensor: by name, else the only tensor for the only input, else Seldon names. */
  private match(given: Tensor[]): Array<[OrtInputInfo, Tensor]> {
    if (!given.length) throw badInput('the request holds no input tensor');
    const byName = new Map(given.map((t) => [t.name, t]));
    if (this.inputs.every((i) => byName.has(i.name))) return this.inputs.map((i) => [i, byName.get(i.name)!]);
    if (this.inputs.length === 1 && given.length === 1) return [[this.inputs[0], given[0]]];
    if (given.length === 1 && Array.isArray(given[0].parameters?.names)) return splitByNames(given[0], this.inputs);
    const missing = this.inputs.filter((i) => !byName.has(i.name)).map((i) => i.name);
    throw badInput(
      `model ${this.name} takes inputs ${this.inputs.map((i) => i.name).join(', ')}; missing ${missing.join(', ')} ` +
        `(got ${given.map((t) => t.name).join(', ')}; Seldon requests name the columns with data.names)`,
    );
  }

  metadata(): ModelMetadata {
    const avgUs = this.stats.runs ? (this.stats.totalMs * 1000) / this.stats.runs : 0;
    return {
      name: this.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: this.opts.platform ?? 'onnx',
      inputs: this.inputs.map((i) => tensorMetadata(i.name, i.type, i.shape)),
      outputs: this.outputs.map((o) => ({
        ...tensorMetadata(o.name, o.type, o.shape),
        ...(o.labels ? { parameters: { labels: o.labels } } : {}),
      })),
      parameters: {
        engine: 'onnx',
        ...(this.file ? { model_file: this.file } : {}),
        ...(this.ort ? { onnxruntime_version: this.ort.env.versions.node } : {}),
        intra_op_threads: this.threads.intraOpThreads ?? 0,
        inter_op_threads: this.threads.interOpThreads ?? 0,
        ...(this.zipmaps.length ? { zipmap_outputs_as_tensors: this.zipmaps.map((z) => z.output) } : {}),
        // Inline runs only: the time session.run holds the event loop.
        session_runs: this.stats.runs,
        session_run_total_ms: Math.round(this.stats.totalMs * 1000) / 1000,
        session_run_mean_us: Math.round(avgUs * 10) / 10,
        workers: this.opts.workers ?? 0,
        ...this.opts.parameters,
      },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    if (this.opts.defaultOutputs) return this.opts.defaultOutputs(protocol);
    return protocol === 'v2' ? this.outputs.map((o) => o.name) : this.outputs.slice(0, 1).map((o) => o.name);
  }

  /** Names of the tensor outputs, in the model's order (for servers choosing defaults after load). */
  outputNames(): string[] {
    return this.outputs.map((o) => o.name);
  }

  async unload(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (this.stats.runs) {
      this.log.info(`session.run: ${this.stats.runs} calls, mean ${((this.stats.totalMs * 1000) / this.stats.runs).toFixed(1)} us`);
    }
    const pool = this.pool;
    this.pool = undefined;
    await pool?.remove(this.id);
    await session?.release();
  }
}

interface RunCost {
  fixedUs: number;
  perRowUs: number;
}

/**
 * session.run's cost as fixed + per batch row: best of a few runs on 1 and on 256 rows of zeros (dynamic non-batch
 * dims as 1, strings empty). Undefined when the model cannot run on that (fixed-content inputs, shape-dependent
 * graphs); a model without a dynamic batch dim has only the fixed cost.
 */
async function calibrate(ort: typeof Ort, session: Ort.InferenceSession, inputs: OrtInputInfo[], log: Logger): Promise<RunCost | undefined> {
  const feedsFor = (rows: number) => {
    const feeds: Record<string, Ort.Tensor> = {};
    for (const i of inputs) {
      const dims = i.shape.map((d, k) => (typeof d === 'number' && d > 0 ? d : k === 0 ? rows : 1));
      const n = dims.reduce((a, b) => a * b, 1);
      if (i.type === 'string') feeds[i.name] = new ort.Tensor('string', new Array<string>(n).fill(''), dims);
      else {
        const zeros = toOrt({ name: i.name, datatype: 'FP64', shape: dims, data: new Float64Array(n) }, i);
        feeds[i.name] = new ort.Tensor(zeros.type as 'float32', zeros.data as Float32Array, zeros.dims);
      }
    }
    return feeds;
  };
  const best = async (feeds: Record<string, Ort.Tensor>) => {
    for (let i = 0; i < 3; i++) await session.run(feeds);
    let us = Infinity;
    for (let i = 0; i < 15; i++) {
      let t = 0;
      setImmediate(() => (t = performance.now()));
      await session.run(feeds);
      us = Math.min(us, (performance.now() - t) * 1000);
    }
    return us;
  };
  const first = inputs[0]?.shape[0];
  const batched = first !== undefined && !(typeof first === 'number' && first > 0);
  try {
    const one = await best(feedsFor(1));
    if (!batched) return { fixedUs: one, perRowUs: Infinity };
    const many = await best(feedsFor(256));
    const perRowUs = Math.max((many - one) / 255, 1e-3);
    return { fixedUs: Math.max(one - perRowUs, 0), perRowUs };
  } catch (err) {
    log.debug(`calibration run failed: ${(err as Error).message}`);
    return undefined;
  }
}

const shapeText = (shape: ReadonlyArray<number | string>) => `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d ? d : '?')).join(',')}]`;

function tensorMetadata(name: string, type: string | undefined, shape: ReadonlyArray<number | string>): TensorMetadata {
  return {
    name,
    datatype: ORT_TO_V2[type ?? ''] ?? 'BYTES',
    // Symbolic and unknown dims are -1, as V2 metadata writes dynamic dims.
    shape: shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

/** onnxruntime's complaints about a feed (shape, rank, type) are the caller's error; anything else is ours. */
function runError(err: unknown): ServingError {
  const message = (err as Error)?.message ?? String(err);
  if (/invalid dimensions|invalid rank|dimension|Got:|Expected:|input|shape/i.test(message)) return badInput(`onnxruntime: ${message}`);
  return internal(`onnxruntime: ${message}`, err);
}
