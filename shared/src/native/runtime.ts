import { fileURLToPath } from 'node:url';
import { badInput, unavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName, TensorMetadata } from '../runtime.js';
import type { Parameters, Tensor } from '../tensor.js';
import { asFloat64 } from '../tensor.js';
import type { NativeTask, NativeTaskResult } from '../parallel/native-worker.js';
import { NATIVE_CHANNEL, sharedThreads, type SharedThreads } from '../parallel/shared-threads.js';
import type { Transferable } from './types.js';
import { NativeInputError } from './errors.js';
import { probeOutputs } from '../output-probe.js';
import type { NativeModel, NativeOutput } from './types.js';

const WORKER = fileURLToPath(new URL('../parallel/native-worker.js', import.meta.url));

export interface NativeRuntimeOptions {
  name: string;
  version?: string;
  platform: string;
  model: NativeModel;
  /** Worker threads for batches too large to run on the event loop. */
  workers: number;
  maxQueue: number;
  /**
   * Requests the model evaluates in at most this many microseconds (estimated from a calibration at load) run on
   * the event loop: the hop to a worker thread costs more than they do. Larger ones go to the worker pool.
   */
  inlineBudgetUs: number;
  defaultOutputs(protocol: ProtocolName): string[];
  /** Output metadata (datatype and shape per output name) and extra facts for the metadata document. */
  describe(): { outputs: TensorMetadata[]; parameters?: Parameters };
  log: Logger;
}

let nextId = 0;

/** Serves a NativeModel (tree ensembles, linear models) with no Python on the request path. */
export class NativeRuntime implements ModelRuntime {
  private threads?: SharedThreads;
  /** This model in the server's shared threads, and what they build it from. */
  private readonly id = `native#${++nextId}`;
  private transferable?: Transferable;
  private usPerRow = 0;
  private probed?: TensorMetadata[];

  constructor(private readonly opts: NativeRuntimeOptions) {}

  /** The model itself, for white-box explainers (TreeSHAP, linear SHAP) that read its trees or coefficients. */
  get nativeModel(): NativeModel {
    return this.opts.model;
  }

  async load(): Promise<void> {
    const { opts } = this;
    if (opts.workers > 0) {
      // The model's arrays live in SharedArrayBuffers: every thread reads the same memory, and passing them with
      // each task passes a handle (a plain ArrayBuffer would be copied every time, so it moves to shared memory once).
      const t = opts.model.toTransferable();
      this.transferable = { ...t, buffers: t.buffers.map((b) => (b instanceof SharedArrayBuffer ? b : shared(b))) };
      this.threads = sharedThreads(WORKER, NATIVE_CHANNEL, opts.workers, opts.maxQueue, this.id);
    }
    this.usPerRow = calibrate(opts.model);
    const inlineRows = Math.floor(opts.inlineBudgetUs / this.usPerRow);
    opts.log.info(
      `native engine: ${opts.model.kind}, ${opts.model.nFeatures} features, outputs ${opts.model.outputNames.join(', ')}; ` +
        `${this.usPerRow.toPrecision(2)} us/row, so requests up to ${inlineRows} rows run inline, larger ones on ${opts.workers} worker thread(s)`,
    );
    this.probed = await probeOutputs(this, opts.log);
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const { model } = this.opts;
    const outputs = request.outputs?.length ? request.outputs.map((o) => o.name) : this.opts.defaultOutputs('v2');
    for (const o of outputs) {
      if (!model.outputNames.includes(o)) throw badInput(`model ${this.opts.name} has no output "${o}"; available: ${model.outputNames.join(', ')}`);
    }
    const input = request.inputs[0];
    if (!input) throw badInput('the request holds no input tensor');
    if (input.datatype === 'BYTES') throw badInput(`input ${input.name}: this model takes numbers, got BYTES`);
    if (input.shape.length !== 2) throw badInput(`expected a 2-D batch of rows [n, ${model.nFeatures}], got shape [${input.shape}]`);
    const [nRows, nCols] = input.shape;
    if (nCols !== model.nFeatures) throw badInput(`expected ${model.nFeatures} features per row, got ${nCols}`);
    const X = input.data instanceof Float32Array && input.datatype === 'FP32' ? input.data : asFloat64(input);
    const results: Tensor[] = [];
    for (const name of outputs) results.push(toTensor(name, await this.run(X, nRows, name)));
    return { id: request.id, outputs: results };
  }

  private async run(X: Float64Array | Float32Array, nRows: number, output: string): Promise<NativeOutput> {
    const threads = this.threads;
    if (!threads || nRows * this.usPerRow <= this.opts.inlineBudgetUs) {
      try {
        return this.opts.model.run(X, nRows, output);
      } catch (err) {
        if (err instanceof NativeInputError) throw badInput(err.message);
        throw err;
      }
    }
    let result: NativeTaskResult;
    const pool = threads.pool; // starts the threads if they have not started yet
    try {
      result = (await pool.run({ id: this.id, model: this.transferable!, X, nRows, output } satisfies NativeTask)) as NativeTaskResult;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(msg)) throw unavailable(`server busy: ${pool.queueSize} requests already queued`);
      throw err;
    }
    if ('inputError' in result) throw badInput(result.inputError);
    // The threads' own timings correct an estimate made while the JIT was still cold (a start from the export cache
    // runs no parity probe first, and was seen calibrating 1.1 us/row for a model costing 0.07): the estimate only
    // ever falls, and only on runs long enough to time.
    if (result.us >= MIN_TIMED_US && result.us / nRows < this.usPerRow) this.usPerRow = result.us / nRows;
    return result.ok;
  }

  metadata(): ModelMetadata {
    const { model } = this.opts;
    const described = this.opts.describe();
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: this.opts.platform,
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [-1, model.nFeatures] }],
      outputs: this.probed ?? described.outputs,
      parameters: { engine: 'native', model_kind: model.kind, ...described.parameters },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    return this.opts.defaultOutputs(protocol);
  }

  async unload(): Promise<void> {
    const threads = this.threads;
    this.threads = undefined;
    await threads?.remove(this.id);
  }
}

function shared(b: ArrayBuffer): SharedArrayBuffer {
  const s = new SharedArrayBuffer(b.byteLength);
  new Uint8Array(s).set(new Uint8Array(b));
  return s;
}

/** Runs shorter than this are not timed for the per-row estimate: the clock's and the call's own costs dominate. */
const MIN_TIMED_US = 50;

/**
 * Microseconds per row, best of many short timed runs on a batch of zeros after enough runs for the JIT to compile the
 * evaluator (a cold estimate would send cheap requests to worker threads; the threads' timings correct it later, see
 * run). One output suffices: all of a model's outputs share the same tree walk or dot products, and the link
 * functions on top are cheap. Costs a few ms.
 */
function calibrate(model: NativeModel): number {
  const output = model.outputNames[0];
  // Rows per run grow until one run takes ~200 us: at 64 rows a cheap model's fixed cost per call (outputs allocated,
  // the timer itself) dominated, and the estimate swung 0.4-0.6 us/row for a logistic regression whose rows cost
  // ~0.05 us, moving 1000-row requests to the threads from one start to the next.
  let rows = 64;
  let X = new Float64Array(rows * model.nFeatures);
  const once = () => {
    const t = performance.now();
    model.run(X, rows, output);
    return (performance.now() - t) * 1000;
  };
  // Warm-up by time, not by count: ten runs left a cheap model in the interpreter (1.1 us/row for 0.07 us/row).
  const warm = performance.now() + 3;
  for (let i = 0; i < 10 || (i < 2000 && performance.now() < warm); i++) once();
  const best3 = () => Math.min(once(), once(), once());
  while (rows < 4096 && best3() < 200) {
    rows *= 2;
    X = new Float64Array(rows * model.nFeatures);
  }
  // Best of many runs: on a busy machine most runs are preempted, and only the fastest shows the real cost.
  let best = Infinity;
  for (let i = 0; i < 25; i++) best = Math.min(best, once() / rows);
  return Math.max(best, 1e-3);
}

function toTensor(name: string, out: NativeOutput): Tensor {
  return { name, datatype: out.datatype, shape: out.shape, data: out.data };
}

