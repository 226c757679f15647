/**
 * MLServer's model-settings.json (one model) and its MLSERVER_MODEL_* env form, read into what a modelfleet
 * server needs: which of our servers, where the model is, its parameters and batching. Unknown MLServer fields that
 * change nothing here (platform, versions, inputs, cache_enabled...) are accepted and ignored, as MLServer's users
 * carry them in their files.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/parameters.js';
import { SERVERS } from '../registry.js';

/** MLServer runtimes (and our own implementation names) -> the server that serves the same model files. */
export const MLSERVER_IMPLEMENTATIONS: Record<string, string> = {
  'mlserver_sklearn.SKLearnModel': 'SKLEARN_SERVER',
  'mlserver_xgboost.XGBoostModel': 'XGBOOST_SERVER',
  'mlserver_mlflow.MLflowRuntime': 'MLFLOW_SERVER',
};
const SHORT: Record<string, string> = { sklearn: 'SKLEARN_SERVER', xgboost: 'XGBOOST_SERVER', tensorflow: 'TENSORFLOW_SERVER', mlflow: 'MLFLOW_SERVER', onnx: 'TENSORFLOW_SERVER' };

/** A user's class as MLServer names custom runtimes: `module.Class`, the module in the model's folder. */
const CLASS_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

/**
 * Our implementation for an MLServer or modelfleet implementation name, or a user's Python class path (served with
 * the language wrapper); an MLServer runtime we do not have, or anything else, is an error saying what is supported.
 */
export function implementationFor(name: string, where: string): string {
  const ours = MLSERVER_IMPLEMENTATIONS[name] ?? SHORT[name] ?? (SERVERS[name.toUpperCase()] ? name.toUpperCase() : undefined);
  if (ours) return ours;
  if (CLASS_PATH.test(name) && !/^mlserver/i.test(name)) return name;
  throw new ConfigError(
    `${where}: implementation "${name}" is not supported; use one of ${Object.keys(MLSERVER_IMPLEMENTATIONS).join(', ')}` +
      `, ${Object.keys(SERVERS).join(', ')}, or a Python class in the model's folder (module.Class, Seldon's language-wrapper contract)`,
  );
}

/** One model to serve, from a model-settings.json, a bare model folder, or the env. */
export interface ModelSpec {
  name: string;
  version?: string;
  implementation: string;
  /** Model location: a local path (resolved against the settings file's folder) or a remote URI. */
  uri: string;
  /** Server parameters (parameters.extra, and MLServer fields with a modelfleet meaning). */
  parameters: Array<{ name: string; value: unknown }>;
  /** Adaptive batching; off unless both are set (size > 1, time > 0), as in MLServer. */
  maxBatchSize: number;
  maxBatchTimeMs: number;
  /** Per-model workers (MLServer's deprecated per-model parallel_workers); undefined = the server's. */
  workers?: number;
  /** Where it was declared, for messages. */
  source: string;
}

type Json = Record<string, unknown>;

function num(v: unknown, what: string, where: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${where}: ${what} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

function str(v: unknown, what: string, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${where}: ${what} must be a string`);
  return String(v);
}

/** Builds a spec from MLServer's fields (file or env); `folder` is where relative URIs start. */
export function specFromSettings(raw: Json, folder: string, where: string, fallbackName: string): ModelSpec {
  const params = (raw.parameters ?? {}) as Json;
  if (typeof params !== 'object' || Array.isArray(params)) throw new ConfigError(`${where}: "parameters" must be an object`);
  const impl = str(raw.implementation, 'implementation', where);
  if (!impl) throw new ConfigError(`${where}: "implementation" is required (e.g. mlserver_sklearn.SKLearnModel)`);
  const uriText = str(params.uri, 'parameters.uri', where);
  const uri = !uriText ? folder : /^[a-z][a-z0-9+.-]*:\/\//i.test(uriText) ? uriText : path.resolve(folder, uriText);
  const extra = (params.extra ?? {}) as Json;
  if (typeof extra !== 'object' || Array.isArray(extra)) throw new ConfigError(`${where}: "parameters.extra" must be an object`);
  const maxBatchSize = num(raw.max_batch_size, 'max_batch_size', where) ?? 0;
  const maxBatchTime = num(raw.max_batch_time, 'max_batch_time', where) ?? 0;
  const workers = num(raw.parallel_workers, 'parallel_workers', where);
  return {
    name: str(raw.name, 'name', where) ?? fallbackName,
    version: str(params.version, 'parameters.version', where),
    implementation: implementationFor(impl, where),
    uri,
    parameters: Object.entries(extra).map(([name, value]) => ({ name, value })),
    maxBatchSize: Math.floor(maxBatchSize),
    maxBatchTimeMs: maxBatchTime * 1000, // MLServer gives seconds
    workers: workers ? Math.floor(workers) : undefined,
    source: where,
  };
}

export function readModelSettings(file: string): ModelSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const folder = path.dirname(file);
  return specFromSettings(raw as Json, folder, file, path.basename(folder));
}

/**
 * MLServer's env-only model (no model-settings.json anywhere): MLSERVER_MODEL_NAME, _IMPLEMENTATION, _URI, _VERSION,
 * _MAX_BATCH_SIZE, _MAX_BATCH_TIME, _EXTRA (JSON). Undefined when MLSERVER_MODEL_IMPLEMENTATION is not set.
 */
export function specFromEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): ModelSpec | undefined {
  if (!env.MLSERVER_MODEL_IMPLEMENTATION) return undefined;
  let extra: unknown;
  try {
    extra = env.MLSERVER_MODEL_EXTRA ? JSON.parse(env.MLSERVER_MODEL_EXTRA) : undefined;
  } catch {
    throw new ConfigError('MLSERVER_MODEL_EXTRA must be a JSON object');
  }
  return specFromSettings(
    {
      name: env.MLSERVER_MODEL_NAME,
      implementation: env.MLSERVER_MODEL_IMPLEMENTATION,
      max_batch_size: env.MLSERVER_MODEL_MAX_BATCH_SIZE,
      max_batch_time: env.MLSERVER_MODEL_MAX_BATCH_TIME,
      parameters: { uri: env.MLSERVER_MODEL_URI, version: env.MLSERVER_MODEL_VERSION, extra },
    },
    cwd,
    'MLSERVER_MODEL_* environment',
    'model',
  );
}

/** MLServer's settings.json fields modelfleet honours; the others (kafka, cors, tracing...) are listed as ignored. */
export interface RepositoryServerSettings {
  host?: string;
  httpPort?: number;
  grpcPort?: number;
  metricsPort?: number;
  metricsEndpoint?: string;
  parallelWorkers?: number;
  debug?: boolean;
  serverName?: string;
  serverVersion?: string;
  modelRepositoryRoot?: string;
  loadModelsAtStartup?: boolean;
  ignored: string[];
}

export function readServerSettings(dir: string): RepositoryServerSettings {
  const file = path.join(dir, 'settings.json');
  if (!existsSync(file)) return { ignored: [] };
  let raw: Json;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const known = ['host', 'http_port', 'grpc_port', 'metrics_port', 'metrics_endpoint', 'parallel_workers', 'debug', 'server_name', 'server_version', 'model_repository_root', 'load_models_at_startup'];
  const port = (k: string) => {
    const n = num(raw[k], k, file);
    if (n !== undefined && (!Number.isInteger(n) || n > 65535)) throw new ConfigError(`${file}: ${k} must be a port number`);
    return n;
  };
  const root = str(raw.model_repository_root, 'model_repository_root', file);
  return {
    host: str(raw.host, 'host', file),
    httpPort: port('http_port'),
    grpcPort: port('grpc_port'),
    metricsPort: port('metrics_port'),
    metricsEndpoint: str(raw.metrics_endpoint, 'metrics_endpoint', file),
    parallelWorkers: num(raw.parallel_workers, 'parallel_workers', file),
    debug: raw.debug === undefined ? undefined : raw.debug === true || raw.debug === 'true',
    serverName: str(raw.server_name, 'server_name', file),
    serverVersion: str(raw.server_version, 'server_version', file),
    modelRepositoryRoot: root === undefined ? undefined : path.resolve(dir, root),
    loadModelsAtStartup: raw.load_models_at_startup === undefined ? undefined : raw.load_models_at_startup !== false && raw.load_models_at_startup !== 'false',
    ignored: Object.keys(raw).filter((k) => !known.includes(k)),
  };
}
