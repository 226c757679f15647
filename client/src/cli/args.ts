/** Flags both commands take: where the server is and how to call it, turned into client options. */
import { ClientError } from '../errors.js';
import type { ModelClientOptions } from '../client.js';

export class UsageError extends Error {}

export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  grpc: { type: 'string' },
  deployment: { type: 'string' },
  namespace: { type: 'string' },
  protocol: { type: 'string', default: 'seldon' },
  transport: { type: 'string' },
  model: { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  token: { type: 'string' },
  header: { type: 'string', multiple: true },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  'no-keep-alive': { type: 'boolean' },
} as const;

export const CONNECTION_USAGE = `connection options (predict and test):
  --url <http(s)://host:port>   REST address (server, \`modelfleet run\` graph, or ingress gateway)
  --grpc <host:port>            gRPC address (with --transport grpc)
  --deployment <d> --namespace <ns>
                                ingress addressing: REST paths under /seldon/<ns>/<d>/, gRPC metadata seldon/namespace
  --protocol seldon|v2|kserve   (default seldon)       --transport rest|grpc (default rest; kserve is REST only)
  --model <name>                V2 / KServe model name (default "model", the servers' default)
  --timeout <ms> (30000)  --retries <n> (3, on 503/UNAVAILABLE with backoff)  --no-keep-alive
  --token <t>                   bearer token (default: env MODELFLEET_TOKEN)
  --header <name=value>         extra header / gRPC metadata (repeatable)
  --ca <pem> --cert <pem> --key <pem>   TLS files (https:// URLs, and gRPC when given); --insecure skips verification
`;

export type ConnectionValues = { [K in keyof typeof CONNECTION_FLAGS]?: (typeof CONNECTION_FLAGS)[K] extends { multiple: true } ? string[] : (typeof CONNECTION_FLAGS)[K] extends { type: 'boolean' } ? boolean : string };

export type Protocol = 'seldon' | 'v2' | 'kserve';

function intFlag(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}
export { intFlag };

export function connection(v: ConnectionValues): { options: ModelClientOptions; protocol: Protocol; model: string } {
  const protocol = v.protocol as Protocol;
  if (!['seldon', 'v2', 'kserve'].includes(protocol)) throw new UsageError(`--protocol must be seldon, v2 or kserve, got "${v.protocol}"`);
  const transport = (v.transport ?? (v.url ? 'rest' : v.grpc ? 'grpc' : 'rest')) as 'rest' | 'grpc';
  if (transport !== 'rest' && transport !== 'grpc') throw new UsageError(`--transport must be rest or grpc, got "${v.transport}"`);
  if (transport === 'rest' && !v.url) throw new UsageError('give the server as --url http://host:port (or --grpc host:port with --transport grpc)');
  if (transport === 'grpc' && !v.grpc) throw new UsageError('--transport grpc needs --grpc host:port');
  if (protocol === 'kserve' && transport === 'grpc') throw new UsageError('KServe V1 has no gRPC API: use --transport rest');
  if (v.namespace && !v.deployment) throw new UsageError('--namespace needs --deployment');
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header takes name=value, got "${h}"`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const tls = v.ca || v.cert || v.key || v.insecure ? { ca: v.ca, cert: v.cert, key: v.key, rejectUnauthorized: !v.insecure } : undefined;
  return {
    protocol,
    model: v.model ?? 'model',
    options: {
      url: v.url,
      grpc: v.grpc,
      transport,
      deployment: v.deployment,
      namespace: v.namespace,
      timeoutMs: intFlag(v.timeout, 'timeout', 1),
      retries: intFlag(v.retries, 'retries', 0),
      keepAlive: !v['no-keep-alive'],
      token: v.token ?? process.env.MODELFLEET_TOKEN,
      headers,
      tls,
    },
  };
}

/** The message an error prints: a server's answer keeps its body, so the user sees exactly what the server said. */
export function describeError(err: unknown): string {
  if (err instanceof ClientError) {
    const body = err.body;
    const tail = body !== undefined && typeof body !== 'string' ? `\n${JSON.stringify(body)}` : '';
    return `${err.message}${tail}`;
  }
  return (err as Error).message;
}
