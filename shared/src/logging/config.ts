/**
 * Request-logger settings from the environment. Standalone servers log when MODELFLEET_LOGGER_URL is set; graph
 * nodes log when they have `logger:` (URL default REQUEST_LOGGER_DEFAULT_ENDPOINT, as Seldon's executor). Queue size
 * and write timeout also come from Seldon's pod annotations.
 */
import { ConfigError } from '../config/parameters.js';
import { parseSize, podAnnotations } from '../config/settings.js';
import { CLOUDEVENTS_DEFAULTS } from './cloudevents-sink.js';
import type { EventStyle, LogMode } from './events.js';
import type { SinkOptions } from './sink.js';

export interface RequestLoggerSettings {
  /** Standalone server: where to log (http(s):// CloudEvents, file:///path or "-" JSON Lines); unset = off. */
  url?: string;
  mode: LogMode;
  style: EventStyle;
  /** Graph nodes whose `logger` has no url. */
  defaultUrl: string;
  sink: SinkOptions;
  /** Ce-Source host (Seldon: --hostname, else POD_NAME, else localhost). */
  hostname: string;
  namespace: string;
}

export function parseMode(v: string, what: string): LogMode {
  if (v === 'all' || v === 'request' || v === 'response') return v;
  throw new ConfigError(`${what} must be all, request or response, got "${v}"`);
}

function positive(env: NodeJS.ProcessEnv, name: string, annotation: string | undefined, fallback: number): number {
  const v = env[name] ?? annotation;
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export function requestLoggerFromEnv(env: NodeJS.ProcessEnv = process.env): RequestLoggerSettings {
  const annotations = podAnnotations(env.MODELFLEET_PODINFO_ANNOTATIONS);
  const style = env.MODELFLEET_LOGGER_EVENTS ?? 'seldon';
  if (style !== 'seldon' && style !== 'kserve') throw new ConfigError(`MODELFLEET_LOGGER_EVENTS must be seldon or kserve, got "${style}"`);
  return {
    url: env.MODELFLEET_LOGGER_URL || undefined,
    mode: parseMode(env.MODELFLEET_LOGGER_MODE ?? 'all', 'MODELFLEET_LOGGER_MODE'),
    style,
    defaultUrl: env.REQUEST_LOGGER_DEFAULT_ENDPOINT || 'http://default-broker',
    sink: {
      queueSize: Math.max(1, positive(env, 'MODELFLEET_LOGGER_QUEUE_SIZE', annotations['seldon.io/executor-logger-queue-size'], CLOUDEVENTS_DEFAULTS.queueSize)),
      writeTimeoutMs: positive(env, 'MODELFLEET_LOGGER_WRITE_TIMEOUT_MS', annotations['seldon.io/executor-logger-write-timeout-ms'], CLOUDEVENTS_DEFAULTS.writeTimeoutMs),
      workers: Math.max(1, positive(env, 'MODELFLEET_LOGGER_WORKERS', undefined, CLOUDEVENTS_DEFAULTS.workers)),
      retries: positive(env, 'MODELFLEET_LOGGER_RETRIES', undefined, CLOUDEVENTS_DEFAULTS.retries),
      requestTimeoutMs: Math.max(1, positive(env, 'MODELFLEET_LOGGER_TIMEOUT_MS', undefined, CLOUDEVENTS_DEFAULTS.requestTimeoutMs)),
      maxFileBytes: parseSize(env.MODELFLEET_LOGGER_FILE_MAX_SIZE ?? '100mb', 'MODELFLEET_LOGGER_FILE_MAX_SIZE'),
      keepFiles: positive(env, 'MODELFLEET_LOGGER_FILE_KEEP', undefined, 5),
    },
    hostname: env.POD_NAME || 'localhost',
    namespace: env.POD_NAMESPACE ?? env.SELDON_NAMESPACE ?? '',
  };
}
