/**
 * `modelfleet explain <Type> --predictor_host=HOST --protocol=seldon.http ...`: an explainer server fronting a
 * model elsewhere, taking the arguments Seldon's operator gives its explainer container (dashes or underscores;
 * `--key=value` after the known flags becomes the explainer's config, as the operator passes `config` entries).
 */
import { ConfigError } from '../config/parameters.js';
import { settingsFromEnv } from '../config/settings.js';
import { runServer } from '../run.js';
import type { ServerDefinition } from '../server-definition.js';
import { explainerType } from './explainer.js';
import { EXPLAIN_USAGE } from './usage.js';
import { REMOTE_PROTOCOLS, RemoteRuntime, type RemoteProtocol } from './remote.js';

const FLAGS = ['model-name', 'predictor-host', 'protocol', 'http-port', 'metrics-port', 'storage-uri', 'host', 'workers', 'tf-data-type', 'max-buffer-size'];


export function parseExplainArgs(args: string[]): { type: string; flags: Record<string, string>; config: Record<string, string> } {
  let type: string | undefined;
  const flags: Record<string, string> = {};
  const config: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      if (type !== undefined) throw new ConfigError(`explain takes one explainer type, got "${type}" and "${a}"`);
      type = a;
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.slice(2, eq < 0 ? undefined : eq);
    const value = eq >= 0 ? a.slice(eq + 1) : args[i + 1] !== undefined && !args[i + 1].startsWith('--') ? args[++i] : 'true';
    const flag = key.replace(/_/g, '-');
    if (FLAGS.includes(flag)) flags[flag] = value;
    else config[key] = value;
  }
  if (!type) throw new ConfigError('explain needs the explainer type (TreeShap, KernelShap, LinearShap, AnchorTabular)');
  return { type, flags, config };
}

export async function explainCommand(args: string[]): Promise<void> {
  const { type, flags, config } = parseExplainArgs(args);
  try {
    explainerType(type);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const host = flags['predictor-host'];
  if (!host) throw new ConfigError('explain needs --predictor-host <host:port> (the model server to explain)');
  let protocol = (flags.protocol ?? 'seldon.http') as RemoteProtocol;
  if (protocol === ('seldon.grpc' as string)) throw new ConfigError('--protocol seldon.grpc is not supported by modelfleet explain: use seldon.http');
  if (!REMOTE_PROTOCOLS.includes(protocol)) throw new ConfigError(`--protocol must be one of ${REMOTE_PROTOCOLS.join(', ')}, got "${protocol}"`);
  if (protocol === 'v2.http') protocol = 'v2';
  const s = settingsFromEnv();
  const dataUri = flags['storage-uri'] ?? s.modelUri;
  s.modelUri = undefined; // the model is remote; STORAGE_URI holds the explainer's own data
  s.modelName = flags['model-name'] ?? 'explainer';
  s.grpcPort = undefined;
  if (flags['http-port']) s.httpPort = port(flags['http-port'], 'http-port');
  if (flags['metrics-port']) s.metricsPort = port(flags['metrics-port'], 'metrics-port');
  if (flags.host) s.host = flags.host;
  if (flags.workers) s.workers = Math.max(1, Number(flags.workers) || 1);
  // The server reads its explainer from the environment (cluster workers inherit it).
  process.env.MODELFLEET_EXPLAINER_TYPE = type;
  if (dataUri) process.env.MODELFLEET_EXPLAINER_URI = dataUri;
  process.env.MODELFLEET_EXPLAINER_CONFIG = JSON.stringify({ ...safeJson(process.env.MODELFLEET_EXPLAINER_CONFIG), ...config });
  const def: ServerDefinition = {
    implementation: 'EXPLAINER',
    image: 'modelfleet/explainer',
    description: `${type} explainer for ${host} (${protocol})`,
    parameters: [],
    anyParameters: true,
    modelOptional: () => true,
    createRuntime: async (ctx) => new RemoteRuntime(ctx.modelName, host, protocol),
  };
  await runServer(def, s);
}

function port(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${what} must be a port number, got "${v}"`);
  return n;
}

function safeJson(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError('MODELFLEET_EXPLAINER_CONFIG is not JSON');
  }
}
