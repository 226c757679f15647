/**
 * Many models in one server: a DataPlane whose checkModel() picks the named model's own plane, so the protocol
 * handlers stay as they are for one model. Each model loads, reloads and unloads on its own; the others keep
 * serving, since nothing here is shared between models but the server's ports and the event loop.
 */
import { fetchModel } from '@modelfleet/storage-init';
import { ConfigError, resolveParameters } from '../config/parameters.js';
import type { Settings } from '../config/settings.js';
import { DataPlane, type ModelIndexEntry } from '../dataplane.js';
import { badInput, internal, notFound, ServingError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics/registry.js';
import { loadDefinition } from '../registry.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName } from '../runtime.js';
import type { SeldonComponent } from '../seldon/component.js';
import { MODEL_URI_PARAMETER, type ServerDefinition } from '../server-definition.js';
import { AdaptiveBatcher } from '../batching/adaptive.js';
import { modelMetrics, type ModelMetrics } from './metrics.js';
import type { ModelSpec } from './model-settings.js';
import { scanRepository, type ScannedModel } from './scan.js';
import type { RepositoryOp, RepositoryState } from './cluster.js';

/** One model version of the repository: counts its own in-flight requests so unloading it waits for them alone. */
export class ModelPlane extends DataPlane {
  constructor(
    readonly spec: ModelSpec,
    log: Logger,
    private readonly counters: ReturnType<ModelMetrics['forModel']>,
  ) {
    super({ name: spec.name, version: spec.version }, log);
    this.state = 'unloaded';
  }

  override async infer(request: InferenceRequest, protocol: ProtocolName): Promise<InferenceResponse> {
    this.begin();
    const end = this.counters.duration.startTimer();
    try {
      const response = await super.infer(request, protocol);
      this.counters.success.inc();
      return response;
    } catch (err) {
      this.counters.failure.inc();
      throw err;
    } finally {
      end();
      this.end();
    }
  }

  /** The server that serves it, for its own routes (MLflow's /invocations); set at load. */
  definition?: ServerDefinition;

  /** The runtime after a load, for a reload to take over without a gap. */
  attach(runtime: ModelRuntime, definition: ServerDefinition): void {
    this.failure = undefined;
    this.definition = definition;
    this.setRuntime(runtime);
  }

  /** Stops taking requests, waits for this model's in-flight ones, unloads it. */
  async unload(timeoutMs: number): Promise<void> {
    if (this.state === 'unloaded') return;
    await this.drain(timeoutMs);
    this.runtime = undefined;
    this.state = 'unloaded';
    this.failure = undefined;
  }
}

export interface RepositoryOptions {
  root: string;
  settings: Settings;
  log: Logger;
  metrics: ServerMetrics;
  /** A model from MLServer's env contract, served beside (or instead of) the folder's. */
  extra?: ModelSpec;
}

const key = (name: string, version?: string) => `${name}\u0000${version ?? ''}`;

export class ModelRepository extends DataPlane {
  private readonly planes = new Map<string, ModelPlane>();
  /** Folders whose model-settings.json could not be read: reported by the index. */
  private broken: ScannedModel[] = [];
  /** Load/unload of one model name run one after another. */
  private readonly ops = new Map<string, Promise<unknown>>();
  private readonly counters: ModelMetrics;

  constructor(private readonly opts: RepositoryOptions) {
    super({ name: 'repository' }, opts.log);
    this.counters = modelMetrics(opts.metrics);
  }

  /** Reads the folder; every model starts unloaded. Throws when two models claim the same name and version. */
  scan(): ModelSpec[] {
    const scanned = this.opts.root ? scanRepository(this.opts.root) : [];
    if (this.opts.extra) scanned.push({ spec: this.opts.extra, name: this.opts.extra.name, version: this.opts.extra.version });
    this.broken = scanned.filter((s) => !s.spec);
    const specs: ModelSpec[] = [];
    const seen = new Map<string, string>();
    for (const s of scanned) {
      if (!s.spec) continue;
      const k = key(s.spec.name, s.spec.version);
      if (seen.has(k)) {
        throw new ConfigError(`model ${s.spec.name}${s.spec.version ? ` version ${s.spec.version}` : ''} is declared twice: ${seen.get(k)} and ${s.spec.source}`);
      }
      seen.set(k, s.spec.source);
      specs.push(s.spec);
    }
    for (const spec of specs) {
      const k = key(spec.name, spec.version);
      if (!this.planes.has(k)) this.planes.set(k, new ModelPlane(spec, this.log.child(spec.name), this.counters.forModel(spec.name, spec.version)));
    }
    return specs;
  }

  /**
   * Loads every model (a failure is logged and reported by the index; the others serve), but those the API unloaded
   * in the other processes of a cluster (`state`).
   */
  async loadAll(state: RepositoryState = {}): Promise<void> {
    const specs = this.scan().filter((s) => state[s.name] !== 'unload');
    for (const b of this.broken) this.log.error(`model ${b.name}: ${b.error}`);
    await Promise.all(specs.map((spec) => this.serialised(spec.name, () => this.loadOne(spec)).catch(() => {})));
    this.state = 'ready';
    const failed = [...this.planes.values()].filter((p) => p.state === 'failed').length;
    const bad = failed + this.broken.length;
    const ready = [...this.planes.values()].filter((p) => p.ready).length;
    this.log.info(`repository ${this.opts.root || '(env)'}: ${ready} model(s) ready${bad ? `, ${bad} failed (see the index)` : ''}`);
  }

  /** Starts without loading (MLServer's load_models_at_startup=false): the API loads them. */
  async startEmpty(state: RepositoryState = {}): Promise<void> {
    this.scan();
    // In a cluster, what the API loaded in the other processes since they started.
    await Promise.all(Object.entries(state).filter(([, op]) => op === 'load').map(([name]) => this.applyLoad(name).catch(() => {})));
    this.state = 'ready';
  }

  private serialised<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.ops.get(name) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.ops.set(name, next);
    void next.catch(() => {}).finally(() => {
      if (this.ops.get(name) === next) this.ops.delete(name);
    });
    return next;
  }

  private async loadOne(spec: ModelSpec): Promise<void> {
    const k = key(spec.name, spec.version);
    let plane = this.planes.get(k)!;
    const log = this.log.child(spec.name);
    const started = Date.now();
    // A model already serving keeps serving until its replacement is ready.
    const reload = plane.state === 'ready';
    const target = reload ? new ModelPlane(spec, log, this.counters.forModel(spec.name, spec.version)) : plane;
    if (!reload) plane.state = 'loading';
    try {
      const runtime = await createModelRuntime(spec, this.opts.settings, log, this.opts.metrics, this.counters);
      target.attach(runtime, await loadDefinition(spec.implementation));
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      log.error(`model ${spec.name} failed to load: ${message}`);
      if (!reload) plane.fail(message);
      throw err instanceof ConfigError ? badInput(`model ${spec.name}: ${message}`) : err instanceof ServingError ? err : internal(`model ${spec.name} failed to load: ${message}`, err);
    }
    if (reload) {
      this.planes.set(k, target);
      void plane.unload(this.opts.settings.drainTimeoutMs);
      plane = target;
    }
    log.info(`model ${spec.name}${spec.version ? ` version ${spec.version}` : ''} ready in ${Date.now() - started} ms (${spec.implementation}, engine: ${String(plane.metadata().parameters?.engine ?? 'n/a')})`);
  }

  /**
   * On several HTTP processes: runs an API load/unload in every process (repository/cluster.ts). Unset in a single
   * process, where the API acts here.
   */
  control?: (op: RepositoryOp, name: string) => Promise<void>;

  override async loadModel(name: string): Promise<void> {
    this.assertOpen();
    return this.control ? this.control('load', name) : this.applyLoad(name);
  }

  override async unloadModel(name: string): Promise<void> {
    this.assertOpen();
    return this.control ? this.control('unload', name) : this.applyUnload(name);
  }

  /** V2 load in this process: reads the model's settings again from the folder (new models can be added), then (re)loads it. */
  async applyLoad(name: string): Promise<void> {
    this.assertOpen();
    const specs = this.scan().filter((s) => s.name === name);
    if (!specs.length) {
      const broken = this.broken.find((b) => b.name === name);
      if (broken) throw badInput(`model ${name} cannot be loaded: ${broken.error}`);
      throw notFound(`Model ${name} not found in the repository ${this.opts.root}`);
    }
    for (const spec of specs) {
      // The plane may have been replaced by a reload of settings: take the newest spec.
      const k = key(spec.name, spec.version);
      const current = this.planes.get(k)!;
      if (current.spec !== spec && current.state !== 'ready') this.planes.set(k, new ModelPlane(spec, this.log.child(name), this.counters.forModel(spec.name, spec.version)));
      await this.serialised(name, () => this.loadOne(spec));
    }
  }

  async applyUnload(name: string): Promise<void> {
    this.assertOpen();
    const planes = this.versionsOf(name);
    if (!planes.length) throw notFound(`Model ${name} not found`);
    await this.serialised(name, async () => {
      await Promise.all(planes.map((p) => p.unload(this.opts.settings.drainTimeoutMs)));
      this.log.info(`model ${name} unloaded`);
    });
  }

  private assertOpen(): void {
    if (this.state === 'stopping') throw new ServingError('not_ready', 'server is shutting down');
  }

  private versionsOf(name: string): ModelPlane[] {
    return [...this.planes.values()].filter((p) => p.model.name === name);
  }

  override checkModel(name: string, version?: string): DataPlane {
    const planes = this.versionsOf(name);
    if (!planes.length) throw notFound(`Model ${name} not found`);
    if (version !== undefined) {
      const p = planes.find((q) => q.model.version === version);
      if (!p) throw notFound(`Model ${name} version ${version} not found; versions: ${planes.map((q) => q.model.version ?? '(none)').join(', ')}`);
      return p;
    }
    return defaultVersion(planes);
  }

  /** The servers of the models that are loaded (for their own routes at the root). */
  loadedDefinitions(): ServerDefinition[] {
    return [...this.planes.values()].flatMap((p) => (p.ready && p.definition ? [p.definition] : []));
  }

  override modelNames(): string[] {
    return [...new Set([...this.planes.values()].map((p) => p.model.name))];
  }

  override index(): ModelIndexEntry[] {
    const rows: ModelIndexEntry[] = [...this.planes.values()].flatMap((p) => p.index()).map((r) => (r.state === 'UNAVAILABLE' && !r.reason ? { ...r, reason: 'unloaded' } : r));
    for (const b of this.broken) rows.push({ name: b.name, ...(b.version ? { version: b.version } : {}), state: 'UNAVAILABLE', reason: b.error ?? '' });
    return rows.sort((a, b) => a.name.localeCompare(b.name) || (a.version ?? '').localeCompare(b.version ?? ''));
  }

  /** Requests that name no model (Seldon's paths): the only model, or an error saying how to name one. */
  private only(): DataPlane {
    const names = this.modelNames();
    if (names.length === 1) return this.checkModel(names[0]);
    throw badInput(
      `this server serves ${names.length} models (${names.join(', ')}): name one, e.g. /v2/models/<name>/infer, /v1/models/<name>:predict ` +
        `or /seldon/<namespace>/<name>/api/v1.0/predictions`,
    );
  }

  override infer(request: InferenceRequest, protocol: ProtocolName): Promise<InferenceResponse> {
    return this.only().infer(request, protocol);
  }

  override metadata(): ModelMetadata {
    return this.only().metadata();
  }

  override component(): SeldonComponent | undefined {
    return this.only().component();
  }

  /** A Seldon ingress path names the deployment; here that may be a model of the repository. */
  override forSeldonPath(segment: string | undefined): DataPlane {
    return segment !== undefined && this.versionsOf(segment).length ? this.checkModel(segment) : this.only();
  }

  override async drain(timeoutMs: number): Promise<void> {
    await super.drain(timeoutMs);
    await Promise.all([...this.planes.values()].map((p) => p.unload(timeoutMs)));
  }
}

/** The newest version when a request names none: numeric versions compare as numbers. */
function defaultVersion(planes: ModelPlane[]): ModelPlane {
  return [...planes].sort((a, b) => {
    const x = a.model.version ?? '';
    const y = b.model.version ?? '';
    return x.localeCompare(y, undefined, { numeric: true });
  })[planes.length - 1];
}

/** What startServer does for its one model, for one model of a repository. */
export async function createModelRuntime(spec: ModelSpec, settings: Settings, log: Logger, metrics: ServerMetrics, counters?: ModelMetrics): Promise<ModelRuntime> {
  const def = await loadDefinition(spec.implementation);
  // A user's class takes any parameters (its constructor's keyword arguments), as PREDICTIVE_UNIT_PARAMETERS.
  const params = def.anyParameters
    ? Object.fromEntries(spec.parameters.map((p) => [p.name, p.value]))
    : resolveParameters(def.implementation, [MODEL_URI_PARAMETER, ...def.parameters], spec.parameters);
  const modelPath = await fetchModel(spec.uri, { log: (m) => log.info(m) });
  const runtime = await def.createRuntime({
    modelName: spec.name,
    modelVersion: spec.version,
    modelPath,
    params,
    workers: spec.workers ?? settings.workers,
    maxQueue: settings.maxQueue,
    maxBatchRows: settings.maxBatchRows,
    inlineBudgetUs: settings.inlineBudgetUs,
    log,
    metrics,
  });
  await runtime.load();
  if (spec.maxBatchSize > 1 && spec.maxBatchTimeMs > 0) {
    log.info(`adaptive batching: up to ${spec.maxBatchSize} requests or ${spec.maxBatchTimeMs} ms`);
    return new AdaptiveBatcher(runtime, { maxBatchSize: spec.maxBatchSize, maxBatchTimeMs: spec.maxBatchTimeMs, queued: counters?.queue(spec.name, spec.version) });
  }
  return runtime;
}
