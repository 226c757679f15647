/** How to reach a server: address, ingress path, TLS, auth, timeouts and retries, shared by every protocol. */
import { readFileSync } from 'node:fs';

export interface TlsOptions {
  /** PEM CA bundle (text or Buffer) or a path to one; absent uses the system's roots. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM, or paths) for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false accepts any server certificate (testing only). Default true. */
  rejectUnauthorized?: boolean;
  /** The name the server certificate must carry, when it differs from the host dialled. */
  servername?: string;
}

export interface ClientOptions {
  /** REST base, e.g. http://localhost:9000 or https://gateway.example.com. */
  url?: string;
  /** gRPC target host:port. */
  grpc?: string;
  /**
   * Seldon ingress addressing (Istio/Ambassador): REST paths get the prefix /seldon/<namespace>/<deployment>,
   * gRPC calls carry `seldon: <deployment>` and `namespace: <namespace>` metadata, as Seldon's client sends them.
   */
  deployment?: string;
  namespace?: string;
  /** Per call, milliseconds (default 30000). */
  timeoutMs?: number;
  /** Retries after a 503 / UNAVAILABLE (or a refused connection), with exponential backoff. Default 3. */
  retries?: number;
  /** First backoff in ms, doubled per retry with jitter (default 100). */
  backoffMs?: number;
  /** Reuse connections (default true). */
  keepAlive?: boolean;
  /** Bearer token for `Authorization: Bearer <token>` (REST) / `authorization` metadata (gRPC). */
  token?: string;
  /** Extra headers (REST) and metadata (gRPC) on every call. */
  headers?: Record<string, string>;
  /** TLS for https:// URLs and the gRPC channel (gRPC uses TLS when this is set or `grpcTls` is true). */
  tls?: TlsOptions;
  grpcTls?: boolean;
  /** Largest gRPC message either way, bytes (default 100 MiB, as the servers accept). */
  maxMessageBytes?: number;
}

export interface ResolvedOptions extends Required<Pick<ClientOptions, 'timeoutMs' | 'retries' | 'backoffMs' | 'keepAlive' | 'maxMessageBytes'>> {
  url?: string;
  grpc?: string;
  pathPrefix: string;
  ingress?: { deployment: string; namespace: string };
  token?: string;
  headers: Record<string, string>;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  grpcTls: boolean;
}

/** PEM text stays as is; anything else is read as a path. */
function pem(v: string | Buffer | undefined): Buffer | undefined {
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v;
  return v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v);
}

export function resolveOptions(o: ClientOptions): ResolvedOptions {
  if (!o.url && !o.grpc) throw new TypeError('a client needs a url (REST) or a grpc target (host:port)');
  if (o.url && !/^https?:\/\//.test(o.url)) throw new TypeError(`url must start with http:// or https://, got "${o.url}"`);
  if (o.namespace !== undefined && o.deployment === undefined) {
    throw new TypeError('namespace without deployment: an ingress path needs both (/seldon/<namespace>/<deployment>)');
  }
  const ingress = o.deployment ? { deployment: o.deployment, namespace: o.namespace ?? 'default' } : undefined;
  return {
    url: o.url?.replace(/\/+$/, ''),
    grpc: o.grpc,
    pathPrefix: ingress ? `/seldon/${encodeURIComponent(ingress.namespace)}/${encodeURIComponent(ingress.deployment)}` : '',
    ingress,
    timeoutMs: o.timeoutMs ?? 30_000,
    retries: o.retries ?? 3,
    backoffMs: o.backoffMs ?? 100,
    keepAlive: o.keepAlive ?? true,
    maxMessageBytes: o.maxMessageBytes ?? 100 * 1024 * 1024,
    token: o.token,
    headers: { ...o.headers },
    tls: o.tls
      ? { ca: pem(o.tls.ca), cert: pem(o.tls.cert), key: pem(o.tls.key), rejectUnauthorized: o.tls.rejectUnauthorized ?? true, servername: o.tls.servername }
      : undefined,
    grpcTls: o.grpcTls ?? o.tls !== undefined,
  };
}

/** Exponential backoff with full jitter: a fleet of clients does not retry in step. */
export function backoff(base: number, attempt: number): Promise<void> {
  const ms = Math.random() * base * 2 ** attempt;
  return new Promise((r) => setTimeout(r, ms));
}
