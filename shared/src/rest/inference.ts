/**
 * The inference routes of every protocol, served straight on node:http without express: they are the hot path,
 * and express's router and middleware cost several times the work of the request itself (hello-world here:
 * node:http 24k req/s, express 5 7.5k). Everything else (metadata, health, feedback, docs) stays on express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BINARY_HEADER, decodeV2Request, encodeV2Response } from '../codecs/v2.js';
import { decodeV1Request, encodeV1Response } from '../codecs/kserve-v1.js';
import { parseSeldonMultipart } from '../codecs/seldon-multipart.js';
import { jsonBody, JsonStream } from '../codecs/json-numbers.js';
import { Readable, pipeline } from 'node:stream';
import { SCAN_BODY, scanNumericList, scanSeldonNdarray, type DecodedArray } from '../codecs/ndarray-scan.js';
import { parsePythonJson, parseStrictJson } from '../codecs/json-text.js';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { badInput, ServingError, tooLarge } from '../errors.js';
import { seldonPredict } from '../handlers/seldon.js';
import type { ServerContext } from '../context.js';
import type { DataPlane } from '../dataplane.js';
import type { InferenceRequest } from '../runtime.js';
import type { RestProtocol } from './context.js';
import { InflightBudget } from './inflight.js';
import { collectSoon, IDLE_GC_BYTES, releaseBody } from '../idle-gc.js';
import { errorBody, parseJson } from './context.js';
import { randomUUID } from 'node:crypto';
import { skipRequested, SKIP_HEADER, withoutLogging, type PayloadLogger } from '../logging/index.js';
import { SPAN_ERROR, tracer } from '../tracing/index.js';

export interface Reply {
  status: number;
  contentType: string;
  /** A JsonStream (a large numeric answer) is written piece by piece, chunked, as the socket drains. */
  body: string | Buffer | JsonStream;
  headers?: Record<string, string>;
}

const json = (value: unknown, status = 200): Reply => ({ status, contentType: 'application/json', body: jsonBody(value) });

interface InferenceRoute {
  methods: string[];
  pattern: RegExp;
  protocol: RestProtocol;
  endpoint: string;
  handle(ctx: ServerContext, req: IncomingMessage, body: Buffer, match: RegExpExecArray, query: string): Promise<Reply>;
}

/**
 * A Seldon request: JSON body, form field `json=`, query arg `json=` (GET), or multipart fields (the one case that
 * answers a promise).
 */
export function seldonBody(req: IncomingMessage, body: Buffer, query: string): unknown {
  const fromQuery = query ? new URLSearchParams(query).get('json') : null;
  if (fromQuery !== null) return parseJson(Buffer.from(fromQuery), true);
  const type = req.headers['content-type'] ?? '';
  if (type.includes('multipart/form-data')) return parseSeldonMultipart(body, type);
  if (type.includes('application/x-www-form-urlencoded')) {
    const text = body.toString('utf8');
    // curl -d sends this content type by default; a body that is plainly JSON is taken as JSON.
    if (!/^\s*[{[]/.test(text)) {
      const field = new URLSearchParams(text).get('json');
      if (field === null) throw badInput('form body has no "json" field');
      return parseJson(Buffer.from(field), true);
    }
  }
  if (body.length >= SCAN_BODY) {
    const scanned = scanSeldonNdarray(body, parsePythonJson);
    if (scanned) return scanned;
  }
  return parseJson(body, true);
}

const ROUTES: InferenceRoute[] = [
  {
    methods: ['POST', 'GET'],
    // The ingress-style prefix /seldon/<namespace>/<deployment>/ is accepted as Istio/Ambassador route it.
    pattern: /^\/(?:seldon\/[^/]+\/([^/]+)\/)?(?:predict|api\/v1\.0\/predictions|api\/v0\.1\/predictions)$/,
    protocol: 'seldon',
    endpoint: 'predictions',
    // Each handle decodes the body synchronously and hands only the decoded request to an async continuation, so no
    // suspended frame can hold a large body while the model runs and the answer is written (see readBody).
    handle(ctx, req, body, match, query) {
      if (req.method === 'GET' && !match[0].endsWith('/predict')) throw badInput(`use POST for ${match[0]}`);
      return seldonPredicted(onPlane(ctx, ctx.plane.forSeldonPath(match[1])), seldonBody(req, body, query), body.length >= IDLE_GC_BYTES);
    },
  },
  {
    methods: ['POST'],
    pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/,
    protocol: 'v2',
    endpoint: 'infer',
    handle(ctx, req, body, match) {
      const plane = ctx.plane.checkModel(decodeURIComponent(match[1]), match[2] === undefined ? undefined : decodeURIComponent(match[2]));
      const headerLen = req.headers[BINARY_HEADER];
      let headerLength: number | undefined;
      if (headerLen !== undefined) {
        headerLength = Number(headerLen);
        if (!Number.isInteger(headerLength)) throw badInput(`${BINARY_HEADER} must be an integer`);
      }
      if (!body.length) throw badInput('empty request body: send an inference request');
      return v2Inferred(plane, decodeV2Request(body, headerLength), body.length >= IDLE_GC_BYTES);
    },
  },
  {
    methods: ['POST'],
    pattern: /^\/v1\/models\/([^/:]+):predict$/,
    protocol: 'kserve-v1',
    endpoint: 'predict',
    handle(ctx, _req, body, match) {
      const plane = ctx.plane.checkModel(decodeURIComponent(match[1]));
      const scanned = body.length >= SCAN_BODY ? scanNumericList(body, 'instances', parseStrictJson, false, placeInstances) : undefined;
      return v1Predicted(plane, decodeV1Request(scanned ?? parseJson(body)), body.length >= IDLE_GC_BYTES);
    },
  },
];

async function seldonPredicted(ctx: ServerContext, message: unknown, large: boolean): Promise<Reply> {
  const m = await message; // multipart bodies decode asynchronously
  if (large) await releaseBody();
  return json(await seldonPredict(ctx, m, true));
}

async function v2Inferred(plane: DataPlane, request: InferenceRequest, large: boolean): Promise<Reply> {
  if (large) await releaseBody();
  const response = await plane.infer(request, 'v2');
  const encoded = encodeV2Response(response, request, plane.model);
  return { status: 200, contentType: encoded.contentType, body: encoded.body, headers: encoded.headers };
}

async function v1Predicted(plane: DataPlane, request: InferenceRequest, large: boolean): Promise<Reply> {
  if (large) await releaseBody();
  const response = await plane.infer(request, 'kserve-v1');
  return json(encodeV1Response(response.outputs));
}

/** KServe V1: the scanned list is the top-level "instances" (a body that also has "inputs" is parsed as it is). */
function placeInstances(msg: unknown, marker: string, value: DecodedArray): boolean {
  const m = msg as { instances?: unknown; inputs?: unknown } | null;
  if (m?.instances !== marker || m.inputs !== undefined) return false;
  m.instances = value;
  return true;
}

const contexts = new WeakMap<DataPlane, ServerContext>();

/** The context with another plane (a repository's model named by the path), made once per plane. */
function onPlane(ctx: ServerContext, plane: DataPlane): ServerContext {
  if (plane === ctx.plane) return ctx;
  let c = contexts.get(plane);
  if (!c) contexts.set(plane, (c = { ...ctx, plane }));
  return c;
}

function send(res: ServerResponse, reply: Reply): void {
  const { body } = reply;
  if (body instanceof JsonStream) {
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'access-control-allow-origin': '*', ...reply.headers });
    // pipeline waits for 'drain' between pieces and destroys the response if the client goes away. Each piece goes
    // as bytes: Readable.from reads up to 16 pieces ahead, and a piece built number by number is a string tree many
    // times its text's size until it is flattened.
    pipeline(Readable.from(asBytes(body.pieces())), res, () => {});
    return;
  }
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    // Written as the string itself: no second copy of a large answer as a Buffer.
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    'access-control-allow-origin': '*',
    ...reply.headers,
  });
  res.end(body);
}

function* asBytes(pieces: Iterable<string>): Generator<Buffer> {
  for (const p of pieces) yield Buffer.from(p, 'utf8');
}

const PREALLOCATE = 1 << 16;

/** Body bytes one request holds against the in-flight budget. */
interface Held {
  bytes: number;
  reserve(n: number): void;
}

const zstdDecompress = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;

/** Request body encodings decoded on every route (tritonclient's request_compression_algorithm sends them). */
function decoderFor(encoding: string | undefined): Transform | undefined {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  if (e === 'identity' || e === '') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return zlib.createGunzip();
  if (e === 'deflate') return zlib.createInflate();
  if (e === 'br') return zlib.createBrotliDecompress(); // as express's body parser (the other routes) takes it
  // zstd where Node has it (22.15+), as express's body parser does there: every route takes the same encodings.
  if (e === 'zstd' && zstdDecompress) return zstdDecompress();
  throw new ServingError('bad_input', `unsupported Content-Encoding "${encoding}": send identity, gzip, deflate${zstdDecompress ? ', br or zstd' : ' or br'}`, { status: 415 });
}

/**
 * Reads the body up to `limit` bytes after decoding (a small gzip bomb still gets 413, never the memory); past
 * the limit, stops reading and answers 413 without buffering the rest.
 */
function readBody(req: IncomingMessage, limit: number, held: Held): Promise<Buffer> {
  const decoder = decoderFor(req.headers['content-encoding']);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!decoder && declared > limit) return Promise.reject(tooLarge(`request body of ${declared} bytes exceeds the limit of ${limit} bytes (MODELFLEET_MAX_BODY_SIZE)`));
  if (!decoder && declared > 0) held.reserve(declared); // refused before a byte is buffered
  // A large declared body is copied into one buffer as it arrives: never the chunks and their concatenation at once.
  let into = !decoder && declared >= PREALLOCATE ? Buffer.allocUnsafe(declared) : undefined;
  return new Promise((resolve, reject) => {
    // The listeners live as long as the request, and the promise's resolving functions reach the promise, which
    // holds the body it resolved with: once settled, nothing the listeners share may reach them (a 41 MiB body stayed
    // alive through the model run and the whole answer through req's 'data' and 'error' listeners).
    let done: ((body: Buffer) => void) | undefined = resolve;
    let fail: ((err: unknown) => void) | undefined = reject;
    let chunks: Buffer[] = [];
    let size = 0;
    const source = decoder ? req.pipe(decoder) : req;
    source.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        if (decoder) {
          req.unpipe(decoder);
          decoder.destroy();
        }
        fail?.(tooLarge(`request body exceeds the limit of ${limit} bytes${decoder ? ' once decoded' : ''} (MODELFLEET_MAX_BODY_SIZE)`));
        return;
      }
      try {
        if (size > held.bytes) held.reserve(size - held.bytes); // undeclared or decoded bodies: as they grow
      } catch (err) {
        req.pause();
        decoder?.destroy();
        fail?.(err);
        return;
      }
      if (into) c.copy(into, size - c.length);
      else chunks.push(c);
    });
    source.once('end', () => {
      done?.(into ? into.subarray(0, size) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
      done = undefined;
      fail = undefined;
      into = undefined;
      chunks = [];
    });
    req.once('error', (err) => fail?.(err));
    if (decoder) decoder.once('error', (e) => fail?.(badInput(`could not decode the ${req.headers['content-encoding']} request body: ${e.message}`)));
  });
}

/** Returns a node:http request listener: inference routes here, everything else to `fallback` (express). */
export function withInferenceRoutes(
  ctx: ServerContext,
  limits: { maxBodyBytes: number; maxInflightBytes: number },
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { maxBodyBytes } = limits;
  // One body of the largest size always fits when nothing else is in flight.
  const budget = new InflightBudget(Math.max(limits.maxInflightBytes, maxBodyBytes));
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    for (const route of ROUTES) {
      const match = route.pattern.exec(path);
      if (match && route.methods.includes(req.method ?? '')) {
        void serve(ctx, route, req, res, match, q < 0 ? '' : url.slice(q + 1), maxBodyBytes, budget);
        return;
      }
    }
    fallback(req, res);
  };
}

async function serve(
  ctx: ServerContext,
  route: InferenceRoute,
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  query: string,
  maxBodyBytes: number,
  budget: InflightBudget,
): Promise<void> {
  const { protocol, endpoint } = route;
  const end = ctx.metrics.duration.startTimer({ protocol, endpoint });
  ctx.plane.begin();
  const held: Held = {
    bytes: 0,
    reserve(n) {
      budget.take(n);
      this.bytes += n;
    },
  };
  res.once('close', () => {
    budget.give(held.bytes);
    collectSoon(held.bytes);
    ctx.plane.end();
    const code = String(res.statusCode);
    end({ code });
    ctx.metrics.requests.inc({ protocol, endpoint, code });
  });
  if (ctx.plane.state === 'stopping') res.setHeader('connection', 'close');
  // Tracing and payload logging cost nothing unless they are on: one check each.
  const t = tracer();
  const reply = t
    ? await t.server(`${protocol} ${endpoint}`, req.headers, spanAttributes(ctx, protocol, endpoint, req), async (span) => {
        const r = await answer(ctx, route, req, match, query, maxBodyBytes, held);
        span.setAttribute('http.response.status_code', r.status);
        if (r.status >= 500) span.setStatus({ code: SPAN_ERROR });
        return r;
      })
    : await answer(ctx, route, req, match, query, maxBodyBytes, held);
  send(res, reply);
}

function spanAttributes(ctx: ServerContext, protocol: string, endpoint: string, req: IncomingMessage): Record<string, string> {
  const puid = req.headers['seldon-puid'];
  return {
    'modelfleet.protocol': protocol,
    'modelfleet.endpoint': endpoint,
    'modelfleet.model': ctx.plane.model.name,
    'http.request.method': req.method ?? '',
    'url.path': req.url ?? '',
    ...(typeof puid === 'string' ? { 'seldon.puid': puid } : {}),
  };
}

/** Reads, handles and logs one request; errors become the protocol's error reply. */
async function answer(
  ctx: ServerContext,
  route: InferenceRoute,
  req: IncomingMessage,
  match: RegExpExecArray,
  query: string,
  maxBodyBytes: number,
  held: Held,
): Promise<Reply> {
  const { protocol } = route;
  let reply: Reply;
  const skip = skipRequested(req.headers[SKIP_HEADER]);
  const plog = skip ? undefined : ctx.requestLog;
  let requestId = '';
  try {
    // The body is handed on inside a callback, never held by this function while it waits for the answer.
    reply = await readBody(req, maxBodyBytes, held).then((body) => {
      if (plog) {
        requestId = requestIdOf(req);
        plog.log('request', requestId, ctx.plane.model.name, protocol, req.headers['content-type'] ?? 'application/json', body);
      }
      return skip ? withoutLogging(() => route.handle(ctx, req, body, match, query)) : route.handle(ctx, req, body, match, query);
    });
  } catch (err) {
    const { status, body } = errorBody(protocol, err);
    if (status >= 500) ctx.log.error(`${protocol} request failed: ${(err as Error).message}`);
    reply = json(body, status);
    // An unread body (413, 503) must not be parsed as the next request on this connection.
    if (!req.readableEnded) reply.headers = { connection: 'close' };
    if (status === 503) reply.headers = { ...reply.headers, 'retry-after': '1' };
  }
  if (plog && requestId) logResponse(plog, requestId, ctx.plane.model.name, protocol, reply);
  return reply;
}

/** The id that pairs a request with its response: the caller's Seldon-Puid, CloudEvent id or X-Request-Id, else new. */
function requestIdOf(req: IncomingMessage): string {
  const h = req.headers;
  const id = h['seldon-puid'] ?? h['ce-id'] ?? h['x-request-id'];
  return typeof id === 'string' && id ? id : randomUUID();
}

/** Successful answers only, as KServe's logger does: an error body is not a model's response. */
function logResponse(plog: PayloadLogger, requestId: string, model: string, protocol: string, reply: Reply): void {
  if (reply.status >= 200 && reply.status < 300) plog.log('response', requestId, model, protocol, reply.contentType, reply.body instanceof JsonStream ? reply.body.text() : reply.body);
}
