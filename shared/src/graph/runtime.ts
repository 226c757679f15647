/**
 * A SeldonDeployment as one server: every predictor's graph built (prepackaged servers and Python classes loaded
 * in-process, built-ins, remote endpoints), requests split between predictors by `traffic`, a copy of each to the
 * shadow predictor (its answer discarded), feedback to the predictor that answered (found by puid).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Histogram } from 'prom-client';
import { fetchModel } from '@modelfleet/storage-init';
import { MODEL_URI_PARAMETER, type RuntimeContext } from '../server-definition.js';
import { resolveParameters } from '../config/parameters.js';
import { decodeSeldonMessage, emptyData, type SeldonMeta } from '../codecs/seldon-json.js';
import { jsonValues, nest } from '../codecs/ndarray.js';
import { DataPlane } from '../dataplane.js';
import { asServingError, badInput, httpStatusOf, internal, ServingError } from '../errors.js';
import { PrepackagedComponent } from '../handlers/seldon.js';
import { loadDefinition } from '../registry.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime } from '../runtime.js';
import type { EncodeOptions, SeldonComponent, SeldonFeedback, SeldonMessage } from '../seldon/component.js';
import type { NumericArray } from '../tensor.js';
import { UserModelRuntime } from '../wrapper/runtime.js';
import { createBuiltin } from './builtins.js';
import { nodeKind, nodeParameters, type PredictiveUnit, type Predictor, type SeldonDeployment } from './deployment.js';
import { buildNode, GraphExecutor } from './executor.js';
import { GrpcNode, RestNode } from './remote.js';
import type { LogMode } from '../logging/events.js';
import { tracer } from '../tracing/index.js';

interface LivePredictor {
  spec: Predictor;
  executor: GraphExecutor;
}

export class DeploymentRuntime implements ModelRuntime {
  readonly seldon: SeldonComponent;
  private predictors: LivePredictor[] = [];
  private shadow?: LivePredictor;
  private readonly unloaders: Array<() => Promise<void> | void> = [];
  /** puid -> predictor that answered, for feedback (bounded: oldest forgotten first). */
  private readonly answeredBy = new Map<string, LivePredictor>();
  private serverSeconds?: Histogram;

  constructor(
    private readonly sdep: SeldonDeployment,
    private readonly ctx: RuntimeContext,
    private readonly random: () => number = Math.random,
  ) {
    this.seldon = new DeploymentComponent(this);
  }

  async load(): Promise<void> {
    const { ctx } = this;
    const registers = [ctx.metrics.registry];
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    this.serverSeconds = new Histogram({
      name: 'seldon_api_executor_server_requests_seconds',
      help: 'Requests to the deployment, as Seldon\'s executor reports them.',
      labelNames: ['deployment_name', 'predictor_name', 'predictor_version', 'service', 'method', 'code'],
      buckets,
      registers,
    });
    const clientSeconds = new Histogram({
      name: 'seldon_api_executor_client_requests_seconds',
      help: 'Calls from the graph executor to each node.',
      labelNames: ['deployment_name', 'predictor_name', 'predictor_version', 'model_name', 'model_image', 'model_version', 'service', 'code'],
      buckets,
      registers,
    });
    try {
      for (const spec of this.sdep.spec.predictors) {
        const components = new Map<string, { component: SeldonComponent; image: string }>();
        await this.build(spec, spec.graph, components);
        const labels = { deployment_name: this.sdep.metadata.name, predictor_name: spec.name, predictor_version: spec.labels?.version ?? spec.annotations?.version ?? '' };
        const identity = { inferenceServiceName: this.sdep.metadata.name, endpoint: spec.name, namespace: this.sdep.metadata.namespace };
        const loggerOf = (unit: PredictiveUnit) =>
          unit.logger && ctx.requestLogging ? ctx.requestLogging.logger(unit.logger.url, unit.logger.mode as LogMode, identity) : undefined;
        const live = { spec, executor: new GraphExecutor(buildNode(spec.graph, components, loggerOf), clientSeconds, labels) };
        if (spec.shadow) this.shadow = live;
        else this.predictors.push(live);
      }
    } catch (err) {
      await this.unload();
      throw err;
    }
    ctx.log.info(
      `deployment ${this.sdep.metadata.name}: ${this.predictors.map((p) => `${p.spec.name} (${p.spec.traffic ?? 100}%)`).join(', ')}` +
        `${this.shadow ? `, shadow ${this.shadow.spec.name}` : ''}`,
    );
  }

  /** Builds (and loads) the components of a graph, children first. */
  private async build(predictor: Predictor, unit: PredictiveUnit, out: Map<string, { component: SeldonComponent; image: string }>): Promise<void> {
    for (const child of unit.children ?? []) await this.build(predictor, child, out);
    const kind = nodeKind(unit, predictor);
    const { ctx } = this;
    const timeout = Number(this.sdep.spec.annotations?.['seldon.io/rest-timeout'] ?? predictor.annotations?.['seldon.io/rest-timeout'] ?? 0) || undefined;
    const params = nodeParameters(unit);
    const where = `predictor ${predictor.name}, node ${unit.name}`;
    switch (kind.kind) {
      case 'builtin':
        out.set(unit.name, { component: createBuiltin(kind.implementation, unit.name, Object.fromEntries(params.map((p) => [p.name, p.value])), unit.children?.length ?? 0, this.random), image: kind.implementation });
        return;
      case 'remote': {
        const { type, host, port } = kind.endpoint;
        const node = type === 'GRPC' ? new GrpcNode(unit.name, `${host}:${port}`, timeout) : new RestNode(unit.name, host, port, timeout);
        if (node instanceof GrpcNode) this.unloaders.push(() => node.close());
        out.set(unit.name, { component: node, image: `${type.toLowerCase()}://${host}:${port}` });
        return;
      }
      case 'server': {
        const def = await loadDefinition(kind.implementation);
        const resolved = resolveParameters(`${kind.implementation} (${where})`, [MODEL_URI_PARAMETER, ...def.parameters], params);
        const uri = unit.modelUri ?? (resolved.model_uri as string | undefined);
        // A proxy (TENSORFLOW_SERVER with rest_endpoint) has its model elsewhere.
        if (!uri && !def.modelOptional?.(resolved)) throw new ServingError('bad_input', `${where}: ${kind.implementation} needs a modelUri`);
        const modelPath = uri ? await fetchModel(this.resolveUri(uri), { log: (m) => ctx.log.info(`${unit.name}: ${m}`) }) : '';
        const unitId = { id: unit.name, image: def.image };
        const runtime = await def.createRuntime({ ...ctx, modelName: unit.name, modelVersion: undefined, modelPath, params: resolved, unit: unitId });
        await runtime.load();
        this.unloaders.push(() => runtime.unload());
        const plane = new DataPlane({ name: unit.name }, ctx.log);
        plane.setRuntime(runtime);
        out.set(unit.name, { component: new PrepackagedComponent({ plane, metrics: ctx.metrics, unit: unitId }), image: def.image });
        ctx.log.info(`${where}: ${kind.implementation} ready (engine ${String(runtime.metadata().parameters?.engine ?? 'n/a')})`);
        return;
      }
      case 'class': {
        const env = Object.fromEntries((kind.container.env ?? []).map((e) => [e.name, e.value ?? '']));
        const uri = unit.modelUri ?? env.MODEL_URI;
        if (!uri) throw new ServingError('bad_input', `${where}: a Python class needs its code folder as the node's modelUri (or MODEL_URI in the container's env)`);
        const modelPath = await fetchModel(this.resolveUri(uri), { log: (m) => ctx.log.info(`${unit.name}: ${m}`) });
        const image = kind.container.image ?? 'python-class';
        const runtime = new UserModelRuntime({
          interfaceName: kind.interfaceName,
          modelPath,
          parameters: Object.fromEntries(params.map((p) => [p.name, p.value])),
          name: unit.name,
          workers: Number(env.MODELFLEET_WORKERS ?? env.GUNICORN_WORKERS ?? 1) || 1,
          maxQueue: ctx.maxQueue,
          log: ctx.log,
          metrics: ctx.metrics,
          unit: { id: unit.name, image },
          includeMetrics: (env.INCLUDE_METRICS_IN_CLIENT_RESPONSE ?? 'true').toLowerCase() !== 'false',
        });
        await runtime.load();
        this.unloaders.push(() => runtime.unload());
        out.set(unit.name, { component: runtime.seldon, image });
        return;
      }
    }
  }

  /** Relative local paths are relative to the deployment file, so a folder of YAML and models runs from anywhere. */
  private resolveUri(uri: string): string {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || path.isAbsolute(uri)) return uri;
    const base = path.dirname(this.ctx.modelPath);
    return path.resolve(base, uri);
  }

  private pick(): LivePredictor {
    if (this.predictors.length === 1) return this.predictors[0];
    let r = this.random() * 100;
    for (const p of this.predictors) {
      r -= p.spec.traffic ?? 0;
      if (r < 0) return p;
    }
    return this.predictors[this.predictors.length - 1];
  }

  /** Runs a request on one predictor (chosen by traffic), mirrors it to the shadow, and times it. */
  async predict(message: SeldonMessage): Promise<SeldonMessage> {
    if (!this.predictors.length) throw internal('deployment is not loaded');
    const meta = { ...((message.meta ?? {}) as SeldonMeta) };
    meta.puid ??= randomUUID();
    const request = { ...message, meta };
    const predictor = this.pick();
    this.remember(meta.puid, predictor);
    tracer()?.annotate({ 'seldon.puid': meta.puid, 'seldon.predictor': predictor.spec.name });
    if (this.shadow) {
      const shadow = this.shadow;
      shadow.executor.predict(request).catch((err: Error) => this.ctx.log.warn(`shadow ${shadow.spec.name} failed: ${err.message}`));
    }
    return this.observe(predictor, 'predictions', () => predictor.executor.predict(request));
  }

  async feedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    const puid = ((feedback.response?.meta ?? feedback.request?.meta ?? {}) as SeldonMeta).puid;
    const predictor = (puid && this.answeredBy.get(puid)) || this.pick();
    if (this.shadow) {
      const shadow = this.shadow;
      shadow.executor.feedback(feedback).catch((err: Error) => this.ctx.log.warn(`shadow ${shadow.spec.name} feedback failed: ${err.message}`));
    }
    const answer = await this.observe(predictor, 'feedback', () => predictor.executor.feedback(feedback));
    return answer ?? { data: emptyData(), meta: {} };
  }

  private remember(puid: string, p: LivePredictor): void {
    this.answeredBy.set(puid, p);
    if (this.answeredBy.size > 10_000) this.answeredBy.delete(this.answeredBy.keys().next().value!);
  }

  private async observe<T>(p: LivePredictor, service: string, fn: () => Promise<T>): Promise<T> {
    const labels = { deployment_name: this.sdep.metadata.name, predictor_name: p.spec.name, predictor_version: p.spec.labels?.version ?? '', service, method: 'POST' };
    const end = this.serverSeconds!.startTimer(labels);
    try {
      const out = await fn();
      end({ code: '200' });
      return out;
    } catch (err) {
      end({ code: String(httpStatusOf(asServingError(err))) });
      throw err;
    }
  }

  graphMetadata(): Record<string, unknown> {
    const models: Record<string, unknown> = {};
    for (const p of [...this.predictors, ...(this.shadow ? [this.shadow] : [])]) {
      for (const n of p.executor.nodes()) models[n.name] = { name: n.name, type: n.type, image: n.image, predictor: p.spec.name };
    }
    return { name: this.sdep.metadata.name, models, predictors: this.sdep.spec.predictors.map((p) => ({ name: p.name, traffic: p.traffic ?? 100, shadow: !!p.shadow })) };
  }

  /** V2: the first input becomes the graph's Seldon tensor (BYTES as ndarray); the answer's data comes back as `predict`. */
  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const input = request.inputs[0];
    if (!input) throw badInput('the request holds no input tensor');
    const data =
      input.datatype === 'BYTES'
        ? { names: [], ndarray: nest(jsonValues(input), input.shape) }
        : { names: [], tensor: { shape: input.shape, values: Array.from(input.data as NumericArray, Number) } };
    const answer = await this.predict({ data });
    const decoded = decodeSeldonMessage(answer);
    if (!decoded.tensor) throw internal(`the graph answered ${decoded.form}, which has no V2 tensor form`);
    return { id: request.id, outputs: [{ ...decoded.tensor, name: 'predict' }] };
  }

  metadata(): ModelMetadata {
    return { name: this.ctx.modelName, platform: 'seldon-graph', inputs: [], outputs: [], parameters: { engine: 'graph', predictors: this.sdep.spec.predictors.map((p) => p.name) } };
  }

  defaultOutputs(): string[] {
    return ['predict'];
  }

  async unload(): Promise<void> {
    const all = this.unloaders.splice(0);
    await Promise.allSettled(all.map((u) => u()));
  }
}

/** The deployment's external Seldon API: predictions and feedback; the other calls belong to its nodes. */
class DeploymentComponent implements SeldonComponent {
  constructor(private readonly d: DeploymentRuntime) {}

  predict(message: SeldonMessage, _options?: EncodeOptions): Promise<SeldonMessage> {
    return this.d.predict(message);
  }
  sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    return this.d.feedback(feedback);
  }
  private notHere(what: string): never {
    throw new ServingError('unsupported', `a deployment answers predictions and feedback; ${what} belongs to its graph's nodes`);
  }
  async transformInput(): Promise<SeldonMessage> {
    this.notHere('transform-input');
  }
  async transformOutput(): Promise<SeldonMessage> {
    this.notHere('transform-output');
  }
  async route(): Promise<SeldonMessage> {
    this.notHere('route');
  }
  async aggregate(): Promise<SeldonMessage> {
    this.notHere('aggregate');
  }
  async healthStatus(): Promise<SeldonMessage> {
    return { strData: 'healthy', meta: {} };
  }
  seldonMetadata(): Record<string, unknown> {
    return this.d.graphMetadata();
  }
}
