/**
 * KServe's model-server arguments (kserve.model_server and the sklearn/xgb servers' own), so a server bin takes a
 * KServe ServingRuntime's `args` unchanged: --model_name, --model_dir, --http_port, --grpc_port, --workers,
 * --enable_grpc, --grpc_max_{send,receive}_message_length. KServe's other documented arguments (threads, logging,
 * predictor proxying, xgbserver's --nthread) change nothing here: they are accepted and named in the log.
 * `--name=value` and `--name value` both work, as with argparse.
 */
import { ConfigError } from './parameters.js';
import type { Settings } from './settings.js';

const USED = ['model_name', 'model_dir', 'http_port', 'grpc_port', 'workers', 'enable_grpc', 'grpc_max_send_message_length', 'grpc_max_receive_message_length'];
const IGNORED = [
  'max_threads', 'max_asyncio_workers', 'enable_docs_url', 'enable_latency_logging', 'configure_logging', 'log_config_file',
  'access_log_format', 'event_loop', 'timeout_keep_alive', 'predictor_host', 'protocol', 'predictor_protocol', 'predictor_use_ssl',
  'predictor_request_timeout_seconds', 'predictor_request_retries', 'enable_predictor_health_check', 'nthread',
];

export function parseKserveArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) throw new ConfigError(`unexpected argument "${argv[i]}" (the server takes KServe's --name=value arguments)`);
    const name = m[1].replace(/-/g, '_');
    if (!USED.includes(name) && !IGNORED.includes(name)) {
      throw new ConfigError(`unknown argument --${m[1]}; KServe arguments taken: ${USED.map((n) => `--${n}`).join(', ')} (and ${IGNORED.map((n) => `--${n}`).join(', ')}, which change nothing here)`);
    }
    let value = m[2];
    if (value === undefined) value = i + 1 < argv.length && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
    out.set(name, value);
  }
  return out;
}

function int(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

/** Applies the arguments over the env settings; returns the names that were accepted but change nothing. */
export function applyKserveArgs(settings: Settings, argv: string[]): string[] {
  const args = parseKserveArgs(argv);
  const get = (n: string) => args.get(n);
  if (get('model_name')) settings.modelName = get('model_name')!;
  if (get('model_dir')) settings.modelUri = get('model_dir');
  if (get('http_port') !== undefined) settings.httpPort = int('http_port', get('http_port')!, 0, 65535);
  if (get('grpc_port') !== undefined) settings.grpcPort = int('grpc_port', get('grpc_port')!, 0, 65535);
  if (get('workers') !== undefined) settings.workers = int('workers', get('workers')!, 1, 1024);
  if (get('enable_grpc') !== undefined && /^(false|0|no)$/i.test(get('enable_grpc')!)) settings.grpcPort = undefined;
  const sizes = ['grpc_max_send_message_length', 'grpc_max_receive_message_length'].filter((n) => args.has(n)).map((n) => int(n, get(n)!, 1, 2 ** 31 - 1));
  if (sizes.length) settings.grpcMaxMessageBytes = Math.max(...sizes);
  return [...args.keys()].filter((n) => IGNORED.includes(n));
}
