import { Readable } from 'node:stream';
import { safeRelative } from './paths.js';
import type { Backend, Listing, RemoteObject } from './remote.js';
import { PermanentError } from './retry.js';

/**
 * Extra request headers for a host, KServe's way: a variable named `<hostname>-headers` (or `<host:port>-headers`)
 * holding a JSON object, e.g. `models.example.com-headers={"Authorization":"Bearer ..."}`.
 */
export function headersFor(url: URL, env: NodeJS.ProcessEnv): { headers: Record<string, string>; source?: string } {
  for (const name of [`${url.host}-headers`, `${url.hostname}-headers`]) {
    const raw = env[name];
    if (raw === undefined) continue;
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return { headers: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])), source: name };
    } catch {
      throw new PermanentError(`${name} must hold a JSON object of header names to values`);
    }
  }
  return { headers: {} };
}

/** A single file over HTTP(S); its name is the last path segment of the URL. */
export class HttpBackend implements Backend {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly source?: string;

  constructor(uri: string, env: NodeJS.ProcessEnv) {
    this.url = new URL(uri);
    ({ headers: this.headers, source: this.source } = headersFor(this.url, env));
  }

  async list(): Promise<Listing> {
    const last = decodeURIComponent(this.url.pathname.slice(this.url.pathname.lastIndexOf('/') + 1));
    const rel = safeRelative(last) ?? 'model';
    return { objects: [{ key: this.url.href, rel }], single: true };
  }

  async open(_obj: RemoteObject): Promise<{ body: Readable; size?: number }> {
    // identity encoding keeps Content-Length meaningful for the size check.
    const res = await fetch(this.url, { headers: { 'accept-encoding': 'identity', ...this.headers }, redirect: 'follow' });
    if (!res.ok) {
      await res.body?.cancel();
      const err = new Error(this.statusText(res.status));
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw Object.assign(err, { status: res.status });
      throw new PermanentError(err.message);
    }
    if (!res.body) throw new PermanentError(`${this.url.href} returned no body`);
    const length = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    return {
      body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      size: length !== null && !encoded ? Number(length) : undefined,
    };
  }

  private statusText(status: number): string {
    const hint =
      status === 401 || status === 403
        ? this.source
          ? ` (headers from ${this.source} were sent)`
          : ` (set ${this.url.hostname}-headers to a JSON object of headers, e.g. Authorization)`
        : '';
    return `HTTP ${status} from ${this.url.href}${hint}`;
  }

  explain(err: unknown): string {
    if (err instanceof PermanentError) return err.message;
    const e = err as Error & { cause?: { code?: string } };
    return e.cause?.code ? `cannot fetch ${this.url.href}: ${e.cause.code}` : (e?.message ?? String(err));
  }
}
