import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fetchModel } from '@modelfleet/storage-init';
import { ConfigError, resolveParameters } from './config/parameters.js';
import type { Settings } from './config/settings.js';
import type { Express } from 'express';
import { AdaptiveBatcher } from './batching/adaptive.js';
import type { ModelRuntime } from './runtime.js';
import { DataPlane } from './dataplane.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsServer, ServerMetrics, shareWithPrimary } from './metrics/registry.js';
import { createLazyGrpcServer, type LazyGrpcServer } from './grpc/lazy.js';
import { createRestApp } from './rest/app.js';
import type { ServerContext } from './context.js';
import { withInferenceRoutes } from './rest/inference.js';
import { attachExplainer, explainerSettings, explainService } from './explain/config.js';
import { withExplainRoutes, type ExplainService } from './explain/rest.js';
import { RequestLogging } from './logging/index.js';
import { startTracing, stopTracing } from './tracing/index.js';
import type { ServerDefinition } from './server-definition.js';
import { VERSION } from './version.js';
import { MODEL_URI_PARAMETER } from './server-definition.js';

export { VERSION } from './version.js';

export interface RunningServer {
  httpPort: number;
  grpcPort?: number;
  metricsPort: number;
  plane: DataPlane;
  /** Settles when the model has loaded (or failed to). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface StartOptions {
  /**
   * In a cluster worker the primary serves the metrics port, aggregating every worker's registry. Every worker but
   * the first binds its ports only once its model is loaded: connections are shared among the processes that
   * listen, and one still loading would answer 503 to its share while the others are ready.
   */
  clusterWorker?: { metricsPort: number; bindAfterLoad: boolean };
}

/**
 * Starts a server: ports bind at once (liveness answers, readiness is false), the model is fetched and loaded in
 * the background, and readiness turns true only when every worker has it.
 */
export async function startServer(def: ServerDefinition, settings: Settings, options: StartOptions = {}): Promise<RunningServer> {
  const log = createLogger(def.image.split('/').pop() ?? def.implementation);
  const params = def.anyParameters
    ? Object.fromEntries(settings.parameters.map((p) => [p.name, p.value]))
    : resolveParameters(def.implementation, [MODEL_URI_PARAMETER, ...def.parameters], settings.parameters);
  const modelUri = settings.modelUri ?? (def.anyParameters ? undefined : (params.model_uri as string | undefined)) ?? def.defaultModelUri;
  if (!modelUri && !def.modelOptional?.(params)) throw new ConfigError(`${def.implementation} needs a model: set MODEL_URI or the model_uri parameter`);

  const metrics = new ServerMetrics(settings.identity);
  const plane = new DataPlane({ name: settings.modelName, version: settings.modelVersion }, log);
  if (settings.tracing) await startTracing({ ...settings.tracing, serviceName: settings.tracing.serviceName || settings.modelName }, log);
  const requestLogging = new RequestLogging(settings.requestLogger, metrics.registry, log, {
    inferenceServiceName: settings.identity.deploymentName === 'NOT_IMPLEMENTED' ? '' : settings.identity.deploymentName,
    endpoint: settings.identity.predictorName === 'NOT_IMPLEMENTED' ? '' : settings.identity.predictorName,
  });
  let modelPath = '';
  const explainCfg = explainerSettings(process.env, settings.modelName);
  const explain = explainService(explainCfg);
  return serveModels({
    explain,
    requestLogging,
    name: def.implementation,
    log,
    metrics,
    plane,
    settings,
    options,
    routes: def.routes?.bind(def),
    seldonMetadata: () => seldonMetadata(plane, modelPath, settings.modelMetadata),
    what: modelUri ?? '(no model_uri)',
    load: async () => {
      const started = Date.now();
      try {
        modelPath = modelUri ? await fetchModel(modelUri, { log: (m) => log.info(m) }) : '';
        const runtime = await def.createRuntime({
          modelName: settings.modelName,
          modelVersion: settings.modelVersion,
          modelPath,
          params,
          workers: settings.workers,
          maxQueue: settings.maxQueue,
          maxBatchRows: settings.maxBatchRows,
          inlineBudgetUs: settings.inlineBudgetUs,
          log,
          metrics,
          unit: settings.unit,
          requestLogging,
        });
        await runtime.load();
        // Before readiness: a ready server answers explain calls too.
        await attachExplainer(explain, explainCfg, runtime, { workers: settings.workers, inlineBudgetUs: settings.inlineBudgetUs, log });
        plane.setRuntime(withBatching(runtime, settings, log));
        const engine = runtime.metadata().parameters?.engine;
        log.info(`model ${settings.modelName} ready in ${Date.now() - started} ms (engine: ${String(engine ?? 'n/a')})`);
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        plane.fail(message);
        log.error(`model ${settings.modelName} failed to load: ${message}`);
        throw err;
      }
    },
  });
}

/** Adaptive batching from MLSERVER_MODEL_MAX_BATCH_SIZE / _TIME (off unless size > 1 and time > 0, as in MLServer). */
function withBatching(runtime: ModelRuntime, settings: Settings, log: Logger): ModelRuntime {
  if (settings.maxBatchSize <= 1 || settings.maxBatchTimeMs <= 0) return runtime;
  log.info(`adaptive batching: up to ${settings.maxBatchSize} requests or ${settings.maxBatchTimeMs} ms`);
  return new AdaptiveBatcher(runtime, { maxBatchSize: settings.maxBatchSize, maxBatchTimeMs: settings.maxBatchTimeMs });
}

/** What serveModels needs: the plane to serve, how to load what it serves, and the protocol extras. */
export interface Serving {
  /** For log lines (the implementation, or "repository"). */
  name: string;
  log: Logger;
  metrics: ServerMetrics;
  plane: DataPlane;
  settings: Settings;
  options: StartOptions;
  routes?: (app: Express, ctx: ServerContext) => void;
  seldonMetadata: ServerContext['seldonMetadata'];
  /** Loads what the plane serves; throws when the server cannot serve (a single model that failed). */
  load(): Promise<void>;
  /** What is loading, for the start-up line. */
  what: string;
  serverName?: string;
  serverVersion?: string;
  /** The model's explainer routes (a single-model server; 501 when none is configured). */
  explain?: ExplainService;
  /** Payload logging of the server's requests (a single-model server). */
  requestLogging?: RequestLogging;
}

/**
 * Binds the ports and serves `plane` over REST, gRPC and metrics while `load` runs in the background; readiness
 * turns true when it is done.
 */
export async function serveModels(serving: Serving): Promise<RunningServer> {
  const { log, metrics, plane, settings, options } = serving;
  const ctx: ServerContext = {
    plane,
    metrics,
    log,
    unit: settings.unit,
    serverName: serving.serverName ?? 'modelfleet',
    serverVersion: serving.serverVersion ?? VERSION,
    seldonMetadata: serving.seldonMetadata,
    requestLog: serving.requestLogging?.server,
  };
  const app = createRestApp(ctx, { maxBodyBytes: settings.maxBodyBytes, routes: serving.routes });
  const inference = withInferenceRoutes(ctx, { maxBodyBytes: settings.maxBodyBytes, maxInflightBytes: settings.maxInflightBytes }, app);
  const listener = serving.explain ? withExplainRoutes(ctx, serving.explain, settings.maxBodyBytes, inference) : inference;
  const httpServer = http.createServer(
    {
      keepAliveTimeout: 65_000,
      // Node's defaults (60 s for headers, 5 min for a request, checked every 30 s) let slow clients hold memory.
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: Math.max(settings.requestTimeoutMs, settings.headersTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, settings.headersTimeoutMs),
    },
    listener,
  );
  const metricsServer = options.clusterWorker ? undefined : createMetricsServer(metrics, settings.metricsPath);
  if (options.clusterWorker) shareWithPrimary(metrics);
  // grpc-js and the protos load on the first gRPC connection (grpc/lazy.ts).
  const grpcServer: LazyGrpcServer | undefined = settings.grpcPort !== undefined ? createLazyGrpcServer(ctx, settings.grpcMaxMessageBytes) : undefined;
  const ready = serving.load().then(() => grpcServer?.setServing(true));
  ready.catch(() => {}); // callers decide what a failed load means; never an unhandled rejection
  if (options.clusterWorker?.bindAfterLoad) {
    log.info(`${serving.name}: loading ${serving.what} before taking a share of the ports`);
    try {
      await ready;
    } catch {
      // Nothing bound: the caller sees the failed load through `ready` and stops.
      const none = async () => {};
      return { httpPort: 0, metricsPort: options.clusterWorker.metricsPort, plane, ready, stop: none };
    }
  }
  const httpPort = await listen(httpServer, settings.httpPort, settings.host);
  serving.requestLogging?.setPort(httpPort);
  let metricsPort = options.clusterWorker?.metricsPort ?? 0;
  try {
    if (metricsServer) metricsPort = await listen(metricsServer, settings.metricsPort, settings.host);
  } catch (err) {
    httpServer.close();
    throw err;
  }
  let grpcPort: number | undefined;
  if (grpcServer) {
    try {
      grpcPort = await grpcServer.bind(settings.host, settings.grpcPort!);
    } catch (err) {
      httpServer.close();
      metricsServer?.close();
      throw err;
    }
  }
  log.info(
    `${serving.name}: HTTP on :${httpPort}, ${grpcPort !== undefined ? `gRPC on :${grpcPort}, ` : ''}` +
      `metrics on :${metricsPort}${settings.metricsPath}; ${plane.ready ? 'loaded' : `loading ${serving.what}`}`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping: no new requests, draining in-flight ones');
      // Close listeners first (no new connections), let in-flight requests finish, then unload the model.
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      grpcServer?.setServing(false);
      const grpcClosed = grpcServer?.shutdown(settings.drainTimeoutMs);
      await plane.drain(settings.drainTimeoutMs);
      await serving.explain?.explainer?.close();
      await grpcClosed;
      httpServer.closeAllConnections();
      await closed;
      await serving.requestLogging?.close(); // queued payload events go out before exit
      await stopTracing();
      if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      log.info('stopped');
    })());

  return { httpPort, grpcPort, metricsPort, plane, ready, stop };
}

/**
 * Seldon metadata: the model's own (a user class's init_metadata(), or what the runtime describes), under
 * metadata.yaml from the model folder, under MODEL_METADATA.
 */
async function seldonMetadata(plane: DataPlane, modelPath: string, envMetadata?: string): Promise<Record<string, unknown>> {
  const component = plane.component();
  let base: Record<string, unknown>;
  if (component?.seldonMetadata) base = await component.seldonMetadata();
  else {
    const model = plane.metadata();
    base = {
      name: model.name,
      versions: model.versions ?? [],
      platform: model.platform,
      inputs: model.inputs,
      outputs: model.outputs,
      custom: Object.fromEntries(Object.entries(model.parameters ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    };
  }
  const dir = existsSync(modelPath) && statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  const file = path.join(dir, 'metadata.yaml');
  const fromFile = existsSync(file) ? await safeYaml(readFileSync(file, 'utf8')) : undefined;
  const fromEnv = envMetadata ? await safeYaml(envMetadata) : undefined;
  return { ...base, ...fromFile, ...fromEnv };
}

/** The YAML parser is loaded only for metadata that needs it. */
async function safeYaml(text: string): Promise<Record<string, unknown> | undefined> {
  const { parse } = await import('yaml');
  try {
    const v = parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // Seldon treats invalid metadata.yaml as absent
  }
}
