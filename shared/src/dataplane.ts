import { badInput, notFound, notReady, ServingError } from './errors.js';
import type { Logger } from './logger.js';
import type { SeldonComponent } from './seldon/component.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName } from './runtime.js';

export type ServerState = 'loading' | 'ready' | 'failed' | 'stopping' | 'unloaded';

/** One row of the V2 repository index (MLServer's states: UNKNOWN, READY, UNAVAILABLE, LOADING, UNLOADING). */
export interface ModelIndexEntry {
  name: string;
  version?: string;
  state: 'UNKNOWN' | 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';
  reason: string;
}

/**
 * The protocol-neutral heart of a server: one model, its readiness, and the in-flight count that a graceful stop
 * waits for. Protocol handlers (REST, gRPC) call only this.
 */
export class DataPlane {
  state: ServerState = 'loading';
  failure?: string;
  protected runtime?: ModelRuntime;
  protected inflight = 0;
  private idle?: () => void;

  constructor(
    readonly model: { name: string; version?: string },
    readonly log: Logger,
  ) {}

  get live(): boolean {
    return this.state !== 'failed';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  setRuntime(runtime: ModelRuntime): void {
    this.runtime = runtime;
    this.state = 'ready';
  }

  fail(reason: string): void {
    this.state = 'failed';
    this.failure = reason;
  }

  /**
   * Checks a model name/version from a path and returns the plane serving it (this one; a model repository returns
   * the named model's). A version is only checked when the model has one configured.
   */
  checkModel(name: string, version?: string): DataPlane {
    if (name !== this.model.name) throw notFound(`Model ${name} not found; this server serves ${this.model.name}`);
    if (version !== undefined && this.model.version !== undefined && version !== this.model.version) {
      throw notFound(`Model ${name} version ${version} not found; this server serves version ${this.model.version}`);
    }
    return this;
  }

  /** The plane a Seldon path's deployment segment (/seldon/<namespace>/<deployment>/...) addresses: this one. */
  forSeldonPath(_segment: string | undefined): DataPlane {
    return this;
  }

  /** Names of the models served (KServe V1's model list). */
  modelNames(): string[] {
    return [this.model.name];
  }

  /** The V2 repository index: here the one model. */
  index(): ModelIndexEntry[] {
    const state = this.state === 'ready' ? 'READY' : this.state === 'loading' ? 'LOADING' : this.state === 'stopping' ? 'UNLOADING' : 'UNAVAILABLE';
    return [{ name: this.model.name, ...(this.model.version ? { version: this.model.version } : {}), state, reason: this.failure ?? '' }];
  }

  /** A single-model server cannot load or unload at run time (a repository server, `modelfleet start`, can). */
  async loadModel(name: string, _parameters?: Record<string, unknown>): Promise<void> {
    this.checkModel(name);
    throw new ServingError('unsupported', `this server serves one model; start a model repository (modelfleet start <dir>) to load and unload models`);
  }

  async unloadModel(name: string): Promise<void> {
    return this.loadModel(name);
  }

  protected loaded(): ModelRuntime {
    if (this.state !== 'ready' || !this.runtime) {
      throw notReady(
        this.state === 'unloaded'
          ? `model ${this.model.name} is not loaded (POST /v2/repository/models/${this.model.name}/load loads it)`
          : this.state === 'failed'
          ? `model ${this.model.name} failed to load: ${this.failure}`
          : this.state === 'stopping'
            ? 'server is shutting down'
            : `model ${this.model.name} is still loading`,
      );
    }
    return this.runtime;
  }

  async infer(request: InferenceRequest, protocol: ProtocolName): Promise<InferenceResponse> {
    const runtime = this.loaded();
    if (!request.outputs?.length) request.outputs = runtime.defaultOutputs(protocol).map((name) => ({ name }));
    if (request.inputs.length > 1 && !runtime.acceptsExtraInputs) refuseUnknownInputs(request, runtime.metadata());
    return runtime.infer(request);
  }

  /** Protocol servers call begin() when a request arrives (before its body is read) and end() when it is answered. */
  begin(): void {
    this.inflight++;
  }

  end(): void {
    if (--this.inflight === 0) this.idle?.();
  }

  /** The runtime's own Seldon hooks, when it has them (a user's Python class); throws while not ready. */
  component(): SeldonComponent | undefined {
    return this.loaded().seldon;
  }

  metadata(): ModelMetadata {
    return this.loaded().metadata();
  }

  /** Stops taking work and waits (up to timeoutMs) for in-flight requests, then unloads the model. */
  async drain(timeoutMs: number): Promise<void> {
    this.state = 'stopping';
    if (this.inflight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    if (this.inflight > 0) this.log.warn(`stopping with ${this.inflight} request(s) still in flight after ${timeoutMs} ms`);
    await this.runtime?.unload();
  }
}

/**
 * Several tensors for a model: each must be one it declares, or it would be silently ignored (a single-input model
 * takes one tensor whatever its name; models that declare no inputs take what they are given).
 */
function refuseUnknownInputs(request: InferenceRequest, md: ModelMetadata): void {
  if (!md.inputs.length) return;
  const declared = new Set(md.inputs.map((i) => i.name));
  const unknown = md.inputs.length === 1 && !request.inputs.some((t) => declared.has(t.name)) ? request.inputs.slice(1) : request.inputs.filter((t) => !declared.has(t.name));
  if (unknown.length) {
    throw badInput(
      `input ${unknown.map((t) => `"${t.name}"`).join(', ')} is not an input of model ${md.name}, which takes ${md.inputs.length} input(s): ${[...declared].join(', ')}`,
    );
  }
}
