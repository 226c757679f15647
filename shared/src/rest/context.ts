import type { Request, Response } from 'express';
import type { Logger } from '../logger.js';
import type { ServerContext } from '../context.js';
import { asServingError, badInput, httpStatusOf } from '../errors.js';
import { skipRequested, SKIP_HEADER, withoutLogging } from '../logging/index.js';
import { SPAN_ERROR, tracer } from '../tracing/index.js';
import { parsePythonJson, parseStrictJson } from '../codecs/json-text.js';

export type RestProtocol = 'seldon' | 'v2' | 'kserve-v1';


/** Each protocol's error body. */
export function errorBody(protocol: RestProtocol, err: unknown): { status: number; body: unknown } {
  const e = asServingError(err);
  const status = httpStatusOf(e);
  if (protocol === 'seldon') {
    if (e.body !== undefined && e.body !== null) return { status, body: e.body };
    const reason =
      e.reason ??
      (e.kind === 'bad_input' || e.kind === 'too_large' ? 'MICROSERVICE_BAD_DATA' : e.kind === 'not_ready' || e.kind === 'unavailable' ? 'MICROSERVICE_NOT_READY' : 'MICROSERVICE_INTERNAL_ERROR');
    return { status, body: { status: { code: -1, info: e.message, reason, status: 1 } } };
  }
  return { status, body: { error: e.message } };
}

export function sendError(res: Response, protocol: RestProtocol, err: unknown, log: Logger): void {
  const { status, body } = errorBody(protocol, err);
  if (status >= 500) log.error(`${protocol} request failed: ${asServingError(err).message}`);
  res.status(status).json(body);
}

/**
 * The raw body parsed as JSON, with a protocol-neutral 400 when it is not. `python`: also Python's NaN / Infinity /
 * -Infinity literals (the Seldon protocol: its Flask server takes what `json.dumps` writes).
 */
export function parseJson(buf: unknown, python = false): unknown {
  const text = Buffer.isBuffer(buf) ? buf.toString('utf8') : '';
  if (!text.trim()) throw badInput('empty request body: send a JSON document');
  try {
    return python ? parsePythonJson(text) : parseStrictJson(text);
  } catch (e) {
    throw badInput(`Invalid JSON: ${(e as Error).message}`);
  }
}

export type Handler = (req: Request, res: Response) => Promise<void> | void;

/** Wraps a handler with timing, the request counter, and the protocol's error shape. */
export function route(ctx: ServerContext, protocol: RestProtocol, endpoint: string, handler: Handler): Handler {
  return async (req, res) => {
    const end = ctx.metrics.duration.startTimer({ protocol, endpoint });
    res.once('finish', () => {
      const code = String(res.statusCode);
      end({ code });
      ctx.metrics.requests.inc({ protocol, endpoint, code });
    });
    const t = tracer();
    if (t) {
      const attributes = { 'modelfleet.protocol': protocol, 'modelfleet.endpoint': endpoint, 'modelfleet.model': ctx.plane.model.name, 'http.request.method': req.method };
      await t.server(`${protocol} ${endpoint}`, req.headers, attributes, async (span) => {
        await handle(req, res);
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SPAN_ERROR });
      });
    } else await handle(req, res);
  };
  async function handle(req: Request, res: Response): Promise<void> {
    try {
      if (skipRequested(req.headers[SKIP_HEADER])) await withoutLogging(() => handler(req, res));
      else await handler(req, res);
    } catch (err) {
      sendError(res, protocol, err, ctx.log);
    }
  }
}

export function protocolOfPath(path: string): RestProtocol {
  if (path.startsWith('/v2')) return 'v2';
  if (path.startsWith('/v1/')) return 'kserve-v1';
  return 'seldon';
}
