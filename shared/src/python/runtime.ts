import { badInput, internal, notReady } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName, TensorMetadata } from '../runtime.js';
import type { Parameters, Tensor } from '../tensor.js';
import { findPython } from './interpreter.js';
import { JobQueue, type Job } from './batcher.js';
import { splitOutputs, stackInputs } from '../batching/merge.js';
import { sharedPythonPool, WorkerDiedError, type PythonPool } from './pool.js';
import type { PythonProcess } from './process.js';
import { packNumeric, unpackNumeric, type FrameTensor } from './tensors.js';
import { probeOutputs } from '../output-probe.js';

/** What a loader's `info()` returns; servers add their own keys. */
export interface PythonModelInfo {
  outputs: string[];
  n_features?: number | null;
  warnings?: string[];
  [key: string]: unknown;
}

export interface PythonRuntimeOptions {
  name: string;
  version?: string;
  platform: string;
  modelPath: string;
  /** Python file with `load(path, options) -> model` (see shared/python/modelfleet_worker.py). */
  loaderPath: string;
  loaderOptions?: unknown;
  /** Modules the interpreter must have; the start-up error names the missing ones. */
  requiredModules: string[];
  workers: number;
  maxQueue: number;
  /** Rows one Python call may take when queued requests are merged; 1 turns batching off (models that are not row-wise). */
  maxBatchRows: number;
  defaultOutputs(protocol: ProtocolName): string[];
  describe(info: PythonModelInfo): { inputs: TensorMetadata[]; outputs: TensorMetadata[]; parameters?: Parameters };
  /** Pure numeric models (sklearn, xgboost): run a row of zeros at load so metadata declares the shapes answered. */
  probeOutputs?: boolean;
  log: Logger;
}

/** A Python call's outputs, and the response parameters the loader attached (if any). */
interface Answer {
  outputs: Tensor[];
  parameters?: Parameters;
}

let nextId = 0;

/** Serves a model through the server's shared Python processes: the universal fallback engine. */
export class PythonRuntime implements ModelRuntime {
  private pool?: PythonPool;
  /** This load's id in the shared processes (a reload is a new runtime, so a new id beside the old one). */
  private readonly id: string;
  private stopListening = () => {};
  private info?: PythonModelInfo;
  private probed?: TensorMetadata[];
  private readonly queue: JobQueue;

  constructor(private readonly opts: PythonRuntimeOptions) {
    this.queue = new JobQueue(opts.maxQueue, opts.maxBatchRows);
    this.id = `${opts.name}#${++nextId}`;
  }

  async load(): Promise<void> {
    const { opts } = this;
    const py = await findPython(opts.requiredModules);
    const pool = sharedPythonPool(py.bin, opts.workers);
    opts.log.info(`python engine: ${py.bin} (Python ${py.version}), ${pool.processes} process(es) shared by the server's Python models, model ${opts.modelPath}`);
    try {
      this.info = (await pool.load(this.id, { loader: opts.loaderPath, path: opts.modelPath, options: opts.loaderOptions ?? {} })) as PythonModelInfo;
    } catch (err) {
      throw new Error(`loading ${opts.modelPath} failed: ${(err as Error).message}`);
    }
    this.stopListening = pool.addListener(() => this.dispatch());
    this.pool = pool;
    for (const w of this.info.warnings ?? []) opts.log.warn(`while loading: ${w}`);
    if (opts.probeOutputs) this.probed = await probeOutputs(this, opts.log);
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    if (!this.pool || !this.info) throw notReady(`model ${this.opts.name} is not loaded`);
    const outputs = request.outputs?.length ? request.outputs.map((o) => o.name) : this.opts.defaultOutputs('v2');
    for (const o of outputs) {
      if (!this.info.outputs.includes(o)) {
        throw badInput(`model ${this.opts.name} has no output "${o}"; available: ${this.info.outputs.join(', ')}`);
      }
    }
    if (!request.inputs.length) throw badInput('the request holds no input tensor');
    const nFeatures = this.info.n_features;
    const first = request.inputs[0];
    if (nFeatures && first.shape.length === 2 && first.shape[1] !== nFeatures) {
      throw badInput(`expected ${nFeatures} features per row, got ${first.shape[1]}`);
    }
    const result = new Promise<Answer>((resolve, reject) => {
      this.queue.push({ inputs: request.inputs, outputs, parameters: request.parameters ?? {}, resolve, reject });
    });
    this.dispatch();
    const answer = await result;
    return { id: request.id, outputs: answer.outputs, ...(answer.parameters ? { parameters: answer.parameters } : {}) };
  }

  /** Hands queued work to idle processes, merging what can share a call. */
  private dispatch(): void {
    const pool = this.pool;
    if (!pool) return;
    while (this.queue.length) {
      const proc = pool.acquire(this.id);
      if (!proc) return;
      const batch = this.queue.take();
      if (batch.length === 1) void this.runOne(proc, batch[0]);
      else void this.runBatch(proc, batch);
    }
  }

  private async call(proc: PythonProcess, inputs: Tensor[], outputs: string[], parameters: Record<string, unknown>): Promise<Answer> {
    const { header, bytes } = packNumeric(inputs);
    const reply = await this.pool!.run(proc, { op: 'infer', model: this.id, inputs: header, outputs, parameters }, bytes);
    const error = reply.header.error as { kind: string; type?: string; message: string } | undefined;
    if (error) {
      if (error.kind === 'bad_input') throw badInput(error.message);
      throw internal(`${error.type ?? 'error'}: ${error.message}`);
    }
    const answer: Answer = { outputs: unpackNumeric(reply.header.ok as FrameTensor[], reply.blob) };
    if (reply.header.parameters) answer.parameters = reply.header.parameters as Parameters;
    return answer;
  }

  private async runOne(proc: PythonProcess, job: Job): Promise<void> {
    try {
      job.resolve(await this.call(proc, job.inputs, job.outputs, job.parameters));
    } catch (err) {
      // A prepackaged model's predict is idempotent: when the process dies under it (OOM kill, kill -9), it goes
      // once more to a live process instead of failing the client. A second death (a request that crashes Python
      // itself) is answered 503.
      if (err instanceof WorkerDiedError && !job.retried) {
        job.retried = true;
        this.queue.pushFront(job);
        this.dispatch();
        return;
      }
      job.reject(err);
    }
  }

  private async runBatch(proc: PythonProcess, batch: Job[]): Promise<void> {
    const first = batch[0];
    let split: Tensor[][] | undefined;
    let parameters: Parameters | undefined;
    try {
      const answer = await this.call(proc, stackInputs(batch), first.outputs, first.parameters);
      split = splitOutputs(answer.outputs, batch.map((j) => j.inputs[0].shape[0]));
      parameters = answer.parameters;
    } catch (err) {
      split = undefined; // one bad request must not fail the others: they go again one by one
      if (err instanceof WorkerDiedError) for (const job of batch) job.retried = true; // that was their one retry
    }
    if (split) {
      batch.forEach((job, i) => job.resolve({ outputs: split![i], ...(parameters ? { parameters } : {}) }));
      return;
    }
    for (const job of [...batch].reverse()) this.queue.pushFront(job);
    this.dispatch();
  }

  metadata(): ModelMetadata {
    const described = this.info ? this.opts.describe(this.info) : { inputs: [], outputs: [] };
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: this.opts.platform,
      inputs: described.inputs,
      outputs: this.probed ?? described.outputs,
      parameters: { engine: 'python', workers: this.pool?.processes ?? this.opts.workers, ...described.parameters },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    return this.opts.defaultOutputs(protocol);
  }

  async unload(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.stopListening();
    this.queue.rejectAll(notReady(`model ${this.opts.name} is unloading`));
    await pool?.unload(this.id);
  }
}
