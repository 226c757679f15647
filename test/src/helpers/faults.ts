import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the test servers fail on purpose: the transient errors a real network and store produce. */
export interface Fault {
  match: (req: RecordedRequest) => boolean;
  /** 503 answers with an error status; 'truncate' sends half the body and drops the connection. */
  kind: 503 | 'truncate';
  /** How many matching requests fail before they start to succeed. */
  times: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
  headers?: http.IncomingHttpHeaders;
  failed?: Fault['kind'];
}

export interface LoopbackServer {
  url: string;
  requests: RecordedRequest[];
  faults: Fault[];
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: http.Server): () => Promise<void> {
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

function record(req: http.IncomingMessage, requests: RecordedRequest[], faults: Fault[]): { rec: RecordedRequest; fault?: Fault } {
  const url = new URL(req.url ?? '/', 'http://x');
  const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization, headers: req.headers };
  requests.push(rec);
  const fault = faults.find((f) => f.times > 0 && f.match(rec));
  if (fault) {
    fault.times--;
    rec.failed = fault.kind;
  }
  return { rec, fault };
}

/** Plain HTTP file server: GET /<name> serves files[name]; `header` makes one request header mandatory (401 otherwise). */
export async function startFileServer(files: Record<string, Buffer>, header?: [string, string]): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const server = http.createServer((req, res) => {
    const { rec, fault } = record(req, requests, faults);
    if (fault?.kind === 503) return void res.writeHead(503).end('injected failure');
    if (header && req.headers[header[0].toLowerCase()] !== header[1]) return void res.writeHead(401).end('unauthorized');
    const body = files[decodeURIComponent(rec.path.slice(1))];
    if (!body) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    if (fault?.kind === 'truncate') return void res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    res.end(body);
  });
  return { url: await listen(server), requests, faults, close: closer(server) };
}

/**
 * Loopback HTTP proxy in front of another server (s3rver here): records what the client sent (to see, e.g.,
 * whether requests were signed) and fails chosen requests, since s3rver itself never fails.
 */
export async function startFlakyProxy(target: string): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const { fault } = record(req, requests, faults);
    if (fault?.kind === 503) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      return void res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>');
    }
    const up = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (fault?.kind !== 'truncate') return void upRes.pipe(res);
      const half = Number(upRes.headers['content-length'] ?? 0) >> 1;
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (sent >= half) return;
        const part = chunk.subarray(0, half - sent);
        sent += part.length;
        res.write(part);
        if (sent >= half) {
          upRes.destroy();
          res.destroy();
        }
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const close = closer(server);
  return { url: await listen(server), requests, faults, close: async () => (agent.destroy(), close()) };
}
