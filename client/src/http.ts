/**
 * REST transport on node:http/https: one keep-alive agent per client, TLS and bearer token, a deadline per call,
 * and retries with backoff on 503 and refused/reset connections (a pod starting or a rolling update).
 */
import http from 'node:http';
import https from 'node:https';
import { ClientError, serverMessage } from './errors.js';
import { backoff, type ResolvedOptions } from './options.js';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Statuses answered as replies rather than errors (readiness probes read 503 as "not ready"). */
  accept?: number[];
}

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

export class HttpTransport {
  private readonly agent: http.Agent;

  constructor(private readonly o: ResolvedOptions) {
    if (!o.url) throw new TypeError('this call needs a REST url');
    this.agent = new URL(o.url).protocol === 'https:'
      ? new https.Agent({
          keepAlive: o.keepAlive,
          ca: o.tls?.ca,
          cert: o.tls?.cert,
          key: o.tls?.key,
          rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
          servername: o.tls?.servername,
        })
      : new http.Agent({ keepAlive: o.keepAlive });
  }

  /** Every path goes under the ingress prefix when one is set: the gateway routes the whole deployment there. */
  url(path: string): string {
    return `${this.o.url}${this.o.pathPrefix}${path}`;
  }

  async call(c: HttpCall): Promise<HttpReply> {
    const target = `${c.method} ${this.url(c.path)}`;
    for (let attempt = 0; ; attempt++) {
      let reply: HttpReply;
      try {
        reply = await this.once(c);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code && RETRYABLE_CODES.has(code) && attempt < this.o.retries) {
          await backoff(this.o.backoffMs, attempt);
          continue;
        }
        if (err instanceof ClientError) throw err;
        throw new ClientError(`${target}: ${(err as Error).message}`, { target, cause: err });
      }
      if (reply.status === 503 && attempt < this.o.retries && !c.accept?.includes(503)) {
        await backoff(this.o.backoffMs, attempt);
        continue;
      }
      if (reply.status >= 400 && !c.accept?.includes(reply.status)) throw replyError(target, reply);
      return reply;
    }
  }

  private once(c: HttpCall): Promise<HttpReply> {
    const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
    const headers: Record<string, string | number> = { ...this.o.headers, ...c.headers };
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    if (body) {
      headers['content-type'] = c.contentType ?? 'application/json';
      headers['content-length'] = body.length;
    }
    const url = new URL(this.url(c.path));
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: c.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      });
      // A deadline for the whole call (connect, send, answer, body), not an idle timeout: a trickling answer fails too.
      const target = `${c.method} ${url.href}`;
      const deadline = setTimeout(() => req.destroy(new ClientError(`${target}: no answer in ${this.o.timeoutMs} ms`, { target })), this.o.timeoutMs);
      req.once('close', () => clearTimeout(deadline));
      req.once('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function parseBody(reply: HttpReply): unknown {
  const text = reply.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function parseJsonReply(target: string, reply: HttpReply): any {
  const body = parseBody(reply);
  if (typeof body === 'string' && reply.body.length) {
    throw new ClientError(`${target}: the answer is not JSON: ${body.slice(0, 200)}`, { status: reply.status, body, target });
  }
  return body;
}

function replyError(target: string, reply: HttpReply): ClientError {
  const body = parseBody(reply);
  const msg = serverMessage(body) ?? `HTTP ${reply.status}`;
  return new ClientError(`${target} answered ${reply.status}: ${msg}`, { status: reply.status, body, target });
}
