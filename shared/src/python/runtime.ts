import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { badInput, internal, notReady } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName, TensorMetadata } from '../runtime.js';
import type { Parameters } from '../tensor.js';
import { WorkerPool } from '../parallel/pool.js';
import type { WireResult, WireTask } from '../parallel/wire.js';
import type { PythonWorkerData } from '../parallel/python-worker.js';
import { findPython } from './interpreter.js';

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
  defaultOutputs(protocol: ProtocolName): string[];
  describe(info: PythonModelInfo): { inputs: TensorMetadata[]; outputs: TensorMetadata[]; parameters?: Parameters };
  log: Logger;
}

const RUNNER = fileURLToPath(new URL('../../python/modelfleet_worker.py', import.meta.url));
const WORKER = fileURLToPath(new URL('../parallel/python-worker.js', import.meta.url));

/** Serves a model through Python processes, one per worker thread: the universal fallback engine. */
export class PythonRuntime implements ModelRuntime {
  private pool?: WorkerPool<WireTask, WireResult>;
  private info?: PythonModelInfo;

  constructor(private readonly opts: PythonRuntimeOptions) {}

  async load(): Promise<void> {
    const { opts } = this;
    const py = await findPython(opts.requiredModules);
    opts.log.info(`python engine: ${py.bin} (Python ${py.version}), ${opts.workers} worker(s), model ${opts.modelPath}`);
    const channelName = `modelfleet-load-${randomUUID()}`;
    const channel = new BroadcastChannel(channelName);
    const loaded = new Promise<PythonModelInfo>((resolve, reject) => {
      let count = 0;
      channel.onmessage = (ev) => {
        const msg = (ev as MessageEvent).data as { info?: PythonModelInfo; error?: { message: string; trace?: string }; pid?: number };
        if (msg.error) {
          // Replacement workers announce too; only the start-up ones decide load success.
          reject(new Error(`loading ${opts.modelPath} failed: ${msg.error.message}${msg.error.trace ? `\n${msg.error.trace}` : ''}`));
          return;
        }
        count++;
        opts.log.debug(`worker with python pid ${msg.pid} loaded the model`);
        if (count === opts.workers) resolve(msg.info!);
      };
    });
    const workerData: PythonWorkerData = {
      channel: channelName,
      pythonBin: py.bin,
      runnerPath: RUNNER,
      loaderPath: opts.loaderPath,
      modelPath: opts.modelPath,
      options: opts.loaderOptions ?? {},
    };
    this.pool = new WorkerPool({ filename: WORKER, workers: opts.workers, workerData, maxQueue: opts.maxQueue });
    try {
      this.info = await loaded;
    } catch (err) {
      await this.pool.destroy();
      this.pool = undefined;
      throw err;
    } finally {
      // Keep listening for replacements' reports in the log, not for readiness.
      channel.onmessage = (ev) => {
        const msg = (ev as MessageEvent).data as { error?: { message: string }; pid?: number };
        if (msg.error) opts.log.error(`a replacement python worker failed to load the model: ${msg.error.message}`);
        else opts.log.info(`replacement python worker (pid ${msg.pid}) loaded the model`);
      };
      channel.unref();
    }
    for (const w of this.info.warnings ?? []) opts.log.warn(`while loading: ${w}`);
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
    const result = await this.pool.run({ inputs: request.inputs, outputs, parameters: request.parameters ?? {} });
    if ('error' in result) {
      if (result.error.kind === 'bad_input') throw badInput(result.error.message);
      throw internal(`${result.error.type ?? 'error'}: ${result.error.message}`);
    }
    return { id: request.id, outputs: result.outputs };
  }

  metadata(): ModelMetadata {
    const described = this.info ? this.opts.describe(this.info) : { inputs: [], outputs: [] };
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: this.opts.platform,
      inputs: described.inputs,
      outputs: described.outputs,
      parameters: { engine: 'python', workers: this.opts.workers, ...described.parameters },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    return this.opts.defaultOutputs(protocol);
  }

  async unload(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}

