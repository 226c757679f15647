/**
 * The detector server, with alibi-detect-server's contract (Seldon Core v1 `components/alibi-detect-server`):
 * `POST /` takes a CloudEvent (binary or structured HTTP mode — what the request logger sends) or a plain
 * Seldon / TensorFlow / V2 predict body, scores it and answers the detector's JSON; with a reply URL the result is
 * also sent on as a CloudEvent carrying the incoming event's id and extensions (so a request logger can merge it
 * with the request). Drift detectors buffer rows until `drift_batch_size` and answer 200 with an empty body before.
 * `GET /protocol` names the protocol, `GET /v1/metrics` (also `/metrics`, `/prometheus`) serves Prometheus metrics.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { ServingError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { Matrix } from './matrix.js';
import { DetectorMetrics } from './metrics.js';
import { instancesOf } from './payload.js';
import { predictDrift, predictOutlier } from './predict.js';
import type { Detector } from './saved.js';

export interface DetectorServerOptions {
  modelName: string;
  host?: string;
  httpPort: number;
  protocol: string;
  replyUrl: string;
  eventType: string;
  eventSource: string;
  /** 'OutlierDetector' | 'DriftDetector', checked against the loaded detector. */
  detectorKind: 'OutlierDetector' | 'DriftDetector';
  driftBatchSize: number;
  returnInstanceScore: boolean;
  driftTypeFeature: boolean;
  maxBodyBytes?: number;
  log?: Logger;
}

const CORE = new Set(['id', 'source', 'type', 'specversion', 'datacontenttype', 'dataschema', 'subject', 'time', 'data', 'data_base64']);

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface RunningDetectorServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startDetectorServer(detector: Detector, o: DetectorServerOptions): Promise<RunningDetectorServer> {
  const log = o.log ?? createLogger('detector');
  const wantKind = o.detectorKind === 'DriftDetector' ? 'drift' : 'outlier';
  if (detector.kind !== wantKind) throw new Error(`${o.detectorKind} was asked for, but the saved detector is ${detector.name} (${detector.kind})`);
  if (detector.kind === 'outlier' && detector.threshold === null) throw new Error(`the ${detector.name} detector has no threshold`);
  if (o.replyUrl && (!o.eventType || !o.eventSource)) throw new Error('--reply_url needs --event_type and --event_source');
  const metrics = new DetectorMetrics(o.eventType);
  const maxBody = o.maxBodyBytes ?? 100 * 1024 * 1024;
  // Drift rows waiting for a full batch.
  let pending: Matrix[] = [];
  let pendingRows = 0;

  async function handleEvent(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; body?: unknown }> {
    const headers = req.headers as Record<string, string>;
    const ctype = String(headers['content-type'] ?? '');
    let event: CloudEvent<unknown> | undefined;
    let payload = body;
    if (headers['ce-specversion'] !== undefined || ctype.startsWith('application/cloudevents+json')) {
      try {
        event = HTTP.toEvent({ headers, body: ctype.startsWith('application/cloudevents') ? body.toString('utf8') : body }) as CloudEvent<unknown>;
      } catch (err) {
        throw new HttpError(400, `not a valid CloudEvent: ${(err as Error).message}`);
      }
      // Structured mode carries the payload inside the event; binary mode's body is the payload itself.
      if (ctype.startsWith('application/cloudevents')) {
        payload = event.data_base64 ? Buffer.from(event.data_base64, 'base64') : Buffer.from(typeof event.data === 'string' ? event.data : JSON.stringify(event.data ?? null));
      }
      // A logger in mode "all" also sends responses and feedback: those are not instances to score.
      if (/\.(response|feedback)$/.test(event.type)) {
        log.debug(`ignored a ${event.type} event`);
        return { status: 200 };
      }
    }
    const ceProtocol = (event as unknown as Record<string, unknown> | undefined)?.protocol;
    let x: Matrix;
    try {
      x = instancesOf(payload, typeof ceProtocol === 'string' ? ceProtocol : undefined, o.protocol);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    if (x.rows === 0) throw new HttpError(400, 'no instances to score');
    const nFeatures = detector.impl.nFeatures;
    if (x.cols !== nFeatures) throw new HttpError(400, `expected ${nFeatures} features per instance, got ${x.cols}`);
    let result: { data: Record<string, unknown>; meta: unknown };
    if (detector.kind === 'outlier') {
      const ret = String(headers['alibi-detect-return-instance-score'] ?? '').toLowerCase() === 'true' || o.returnInstanceScore;
      const r = predictOutlier(detector, x, { returnInstanceScore: ret });
      metrics.outlier(r.data);
      result = { data: { ...r.data }, meta: r.meta };
    } else {
      pending.push(x);
      pendingRows += x.rows;
      if (pendingRows < o.driftBatchSize) return { status: 200 };
      const all = concatRows(pending, nFeatures);
      pending = [];
      pendingRows = 0;
      const r = predictDrift(detector, all, { driftType: o.driftTypeFeature ? 'feature' : 'batch' });
      metrics.drift({ ...r.data });
      result = { data: { ...r.data }, meta: r.meta };
    }
    for (const k of Object.keys(result.data)) if (result.data[k] === null) delete result.data[k];
    if (o.replyUrl) await reply(result, event);
    return { status: 200, body: result };
  }

  async function reply(result: unknown, incoming: CloudEvent<unknown> | undefined): Promise<void> {
    const ext: Record<string, unknown> = {};
    if (incoming) for (const [k, v] of Object.entries(incoming)) if (!CORE.has(k) && v !== undefined) ext[k] = v;
    const out = new CloudEvent({
      ...ext,
      id: incoming?.id ?? randomUUID().replace(/-/g, ''),
      source: o.eventSource,
      type: o.eventType,
      datacontenttype: 'application/json',
      data: result,
    });
    const msg = HTTP.binary(out);
    let res: Response;
    try {
      res = await fetch(o.replyUrl, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new HttpError(502, `reply_url ${o.replyUrl} unreachable: ${(err as Error).message}`);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new HttpError(502, `reply_url ${o.replyUrl} answered ${res.status}`);
  }

  const server = http.createServer((req, res) => {
    const send = (status: number, body?: unknown, type = 'application/json') => {
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, body === undefined ? {} : { 'Content-Type': type });
      res.end(text);
    };
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/protocol') return send(200, o.protocol, 'text/plain');
    if (req.method === 'GET' && (url === '/v1/metrics' || url === '/metrics' || url === '/prometheus')) {
      metrics.registry.metrics().then((m) => send(200, m, metrics.registry.contentType), (err) => send(500, { error: String(err) }));
      return;
    }
    if (req.method === 'GET' && (url === '/health/ping' || url === '/health/status' || url === '/v2/health/ready')) return send(200, { status: 'ok' });
    if (url !== '/') return send(404, { error: `no route ${req.method} ${url}` });
    if (req.method !== 'POST') return send(405, { error: 'POST a CloudEvent or a predict payload to /' });
    const chunks: Buffer[] = [];
    let size = 0, tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooBig) return send(413, { error: `body larger than ${maxBody} bytes` });
      handleEvent(req, Buffer.concat(chunks)).then(
        (r) => send(r.status, r.body),
        (err) => {
          const status = err instanceof HttpError ? err.status : err instanceof ServingError ? 400 : 500;
          if (status >= 500) log.error(`POST /: ${(err as Error).message}`);
          send(status, { error: (err as Error).message });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.httpPort, o.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info(`${detector.name} ${wantKind} detector "${o.modelName}" listening on ${port} (protocol ${o.protocol}${o.replyUrl ? `, replies to ${o.replyUrl}` : ''})`);
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function concatRows(parts: Matrix[], cols: number): Matrix {
  const rows = parts.reduce((s, p) => s + p.rows, 0);
  const data = new Float64Array(rows * cols);
  let at = 0;
  for (const p of parts) {
    data.set(p.data.subarray(0, p.rows * cols), at);
    at += p.rows * cols;
  }
  return { data, rows, cols };
}
