/** The flags every server command (`serve`, `run`, `start`) takes: ports, host, workers. */
import { ConfigError } from './parameters.js';
import type { Settings } from './settings.js';

export const SERVER_FLAGS = {
  'http-port': { type: 'string' },
  'grpc-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  host: { type: 'string' },
  workers: { type: 'string' },
} as const;

/** Applies SERVER_FLAGS over the env settings; `ports` are the values when neither a flag nor the env sets one. */
export function applyServerFlags(s: Settings, values: { [K in keyof typeof SERVER_FLAGS]?: string }, ports: { http: number; grpc: number | undefined }): void {
  s.httpPort = portFlag(values['http-port'], 'http-port', ports.http);
  s.grpcPort = values['grpc-port'] !== undefined ? portFlag(values['grpc-port'], 'grpc-port', 0) : ports.grpc;
  s.metricsPort = portFlag(values['metrics-port'], 'metrics-port', s.metricsPort);
  if (values.host) s.host = values.host;
  if (values.workers) {
    const n = Number(values.workers);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--workers must be a positive integer, got "${values.workers}"`);
    s.workers = n;
  }
}

function portFlag(v: string | undefined, what: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${what} must be a port number, got "${v}"`);
  return n;
}
