import { existsSync, readFileSync } from 'node:fs';
import { availableCpus } from './cpus.js';
import { ConfigError, parseParameterList } from './parameters.js';
import type { Identity } from '../metrics/registry.js';
import { requestLoggerFromEnv, type RequestLoggerSettings } from '../logging/config.js';
import { tracingFromEnv, type TracingSettings } from '../tracing/config.js';

/** Everything a server needs to start, from the Seldon/MLServer env contract and then CLI flags. */
export interface Settings {
  host: string;
  httpPort: number;
  /** undefined when gRPC is off (GRPC_WORKERS=0, as in Seldon's wrapper). */
  grpcPort?: number;
  /** Largest gRPC message either way (gRPC's own default of 4 MiB is a recurring Seldon complaint). */
  grpcMaxMessageBytes: number;
  metricsPort: number;
  metricsPath: string;
  modelUri?: string;
  modelName: string;
  modelVersion?: string;
  /** PREDICTIVE_UNIT_PARAMETERS entries, then any given on the command line (later wins). */
  parameters: Array<{ name: string; value: unknown }>;
  workers: number;
  /** Server processes sharing the HTTP and gRPC ports (node:cluster); 1 = a single process. Default: one per CPU. */
  httpProcesses: number;
  maxQueue: number;
  /** Rows the Python engine may merge from queued requests into one call (1 = no batching). */
  maxBatchRows: number;
  /** Adaptive batching (MLSERVER_MODEL_MAX_BATCH_SIZE / _TIME, seconds in the env): off unless size > 1 and time > 0. */
  maxBatchSize: number;
  maxBatchTimeMs: number;
  /** Native engine: requests estimated to take at most this many microseconds run on the event loop. */
  inlineBudgetUs: number;
  maxBodyBytes: number;
  /** Request body bytes all requests in flight may hold together; past it, 503 with Retry-After. */
  maxInflightBytes: number;
  /** A request's headers must arrive within this (slow-header clients are cut off with 408). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
  drainTimeoutMs: number;
  identity: Identity;
  /** Set when PREDICTIVE_UNIT_ID is: responses add {id: image} to meta.requestPath as Seldon's wrapper does. */
  unit?: { id: string; image: string };
  /** MODEL_METADATA (YAML or JSON): wins over metadata.yaml and the model's own metadata. */
  modelMetadata?: string;
  /** Payload logging: MODELFLEET_LOGGER_* and REQUEST_LOGGER_DEFAULT_ENDPOINT. */
  requestLogger: RequestLoggerSettings;
  /** OpenTelemetry tracing (OTEL_*, TRACING, JAEGER_*); undefined = off. serviceName '' = the model's name. */
  tracing?: TracingSettings;
}

function int(env: NodeJS.ProcessEnv, names: string[], fallback: number): number {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') {
      const x = Number(v);
      if (!Number.isInteger(x) || x < 0) throw new ConfigError(`${n} must be a non-negative integer, got "${v}"`);
      return x;
    }
  }
  return fallback;
}

function seconds(env: NodeJS.ProcessEnv, name: string): number {
  const v = env[name];
  if (v === undefined || v === '') return 0;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new ConfigError(`${name} must be a non-negative number of seconds, got "${v}"`);
  return x;
}

/** Parses sizes such as 104857600, 100mb, 2GiB. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`${what} must be a size like 100mb, got "${text}"`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.floor(Number(m[1]) * mult);
}

/** Seldon's pod annotations, mounted by the operator through the downward API as `key="value"` lines. */
export function podAnnotations(file = '/etc/podinfo/annotations'): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([^=]+)="(.*)"$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/\\"/g, '"');
  }
  return out;
}

function grpcMaxMessage(env: NodeJS.ProcessEnv): number {
  if (env.MODELFLEET_GRPC_MAX_MESSAGE_SIZE) return parseSize(env.MODELFLEET_GRPC_MAX_MESSAGE_SIZE, 'MODELFLEET_GRPC_MAX_MESSAGE_SIZE');
  const annotated = podAnnotations(env.MODELFLEET_PODINFO_ANNOTATIONS)['seldon.io/grpc-max-message-size'];
  return annotated ? parseSize(annotated, 'seldon.io/grpc-max-message-size') : 256 * 1024 ** 2;
}

/** An image reference as Seldon splits it for labels and metadata: name, and the tag after the last colon. */
export function splitImage(image: string): { name: string; version?: string } {
  const colon = image.lastIndexOf(':');
  return colon > 0 ? { name: image.slice(0, colon), version: image.slice(colon + 1) } : { name: image };
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const image = env.PREDICTIVE_UNIT_IMAGE ?? '';
  const { name: imageName, version: imageVersion } = splitImage(image);
  let predictorVersion = 'NOT_IMPLEMENTED';
  if (env.PREDICTOR_LABELS) {
    try {
      predictorVersion = String(JSON.parse(env.PREDICTOR_LABELS).version ?? predictorVersion);
    } catch {
      throw new ConfigError('PREDICTOR_LABELS must be JSON');
    }
  }
  const unitId = env.PREDICTIVE_UNIT_ID;
  // One server process per CPU the container may use; Python processes / worker threads default to the CPUs each
  // server process's share, so the machine's total stays one per CPU either way.
  const cpus = availableCpus();
  const httpProcesses = int(env, ['MODELFLEET_HTTP_PROCESSES'], 0) || cpus;
  const workers = int(env, ['MODELFLEET_WORKERS', 'GUNICORN_WORKERS', 'MLSERVER_PARALLEL_WORKERS'], 0) || Math.max(1, Math.floor(cpus / httpProcesses));
  return {
    host: env.MODELFLEET_HOST ?? '0.0.0.0',
    httpPort: int(env, ['PREDICTIVE_UNIT_HTTP_SERVICE_PORT', 'MLSERVER_HTTP_PORT'], 9000),
    grpcPort: env.GRPC_WORKERS === '0' ? undefined : int(env, ['PREDICTIVE_UNIT_GRPC_SERVICE_PORT', 'MLSERVER_GRPC_PORT'], 9500),
    grpcMaxMessageBytes: grpcMaxMessage(env),
    metricsPort: int(env, ['PREDICTIVE_UNIT_METRICS_SERVICE_PORT', 'MLSERVER_METRICS_PORT'], 6000),
    metricsPath: env.PREDICTIVE_UNIT_METRICS_ENDPOINT ?? env.MLSERVER_METRICS_ENDPOINT ?? '/prometheus',
    modelUri: env.MODEL_URI ?? env.MLSERVER_MODEL_URI ?? env.STORAGE_URI,
    modelName: env.MLSERVER_MODEL_NAME ?? unitId ?? 'model',
    modelVersion: env.MLSERVER_MODEL_VERSION || undefined,
    parameters: parseParameterList(env.PREDICTIVE_UNIT_PARAMETERS),
    workers,
    httpProcesses,
    maxQueue: int(env, ['MODELFLEET_MAX_QUEUE'], 2048),
    maxBatchRows: Math.max(1, int(env, ['MODELFLEET_MAX_BATCH_ROWS'], 256)),
    maxBatchSize: int(env, ['MLSERVER_MODEL_MAX_BATCH_SIZE'], 0),
    maxBatchTimeMs: seconds(env, 'MLSERVER_MODEL_MAX_BATCH_TIME') * 1000,
    inlineBudgetUs: int(env, ['MODELFLEET_INLINE_BUDGET_US'], 500),
    maxBodyBytes: parseSize(env.MODELFLEET_MAX_BODY_SIZE ?? '100mb', 'MODELFLEET_MAX_BODY_SIZE'),
    maxInflightBytes: parseSize(env.MODELFLEET_MAX_INFLIGHT_BYTES ?? '256mb', 'MODELFLEET_MAX_INFLIGHT_BYTES'),
    headersTimeoutMs: Math.max(1, int(env, ['MODELFLEET_HEADERS_TIMEOUT_SECONDS'], 10)) * 1000,
    requestTimeoutMs: Math.max(1, int(env, ['MODELFLEET_REQUEST_TIMEOUT_SECONDS'], 60)) * 1000,
    drainTimeoutMs: int(env, ['MODELFLEET_DRAIN_TIMEOUT_SECONDS'], 20) * 1000,
    identity: {
      deploymentName: env.SELDON_DEPLOYMENT_ID ?? 'NOT_IMPLEMENTED',
      predictorName: env.PREDICTOR_ID ?? 'NOT_IMPLEMENTED',
      predictorVersion,
      modelName: unitId ?? 'NOT_IMPLEMENTED',
      modelImage: imageName || 'NOT_IMPLEMENTED',
      modelVersion: imageVersion ?? 'NOT_IMPLEMENTED',
    },
    unit: unitId ? { id: unitId, image } : undefined,
    modelMetadata: env.MODEL_METADATA,
    requestLogger: requestLoggerFromEnv(env),
    tracing: tracingFromEnv(env, ''),
  };
}
