/**
 * The explain endpoints, in each protocol's request and error shapes: Seldon `/api/v1.0/explain` (and v0.1, and the
 * ingress prefix), KServe V1 `/v1/models/NAME:explain`, and the V2 form Seldon's explainer documents
 * (`/v2/models/<model>-explainer/infer`, output `explain` holding the JSON). All answer Alibi's Explanation JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { decodeSeldonMessage } from '../codecs/seldon-json.js';
import { decodeV1Request } from '../codecs/kserve-v1.js';
import { decodeV2Request } from '../codecs/v2.js';
import { stringify } from '../codecs/json-numbers.js';
import type { ServerContext } from '../context.js';
import { badInput, notFound, notReady, ServingError, tooLarge } from '../errors.js';
import { parseJson, protocolOfPath, route, sendError } from '../rest/context.js';
import { asFloat64, type Tensor } from '../tensor.js';
import type { Explainer, ExplainRequest } from './explainer.js';

/** Holds the explainer once it is built (after the model loads), or why there is none. */
export class ExplainService {
  explainer?: Explainer;
  failure?: string;

  constructor(
    /** The V2 model name the explainer answers as (Seldon: `<deployment>-<predictor>-explainer`). */
    readonly name: string,
    readonly configured: boolean,
  ) {}

  ready(): Explainer {
    if (this.explainer) return this.explainer;
    if (!this.configured) throw new ServingError('unsupported', 'no explainer is configured for this model (set MODELFLEET_EXPLAINER_TYPE)');
    throw notReady(this.failure ? `the explainer failed to start: ${this.failure}` : 'the explainer is still loading');
  }
}

/** Rows to explain from a decoded tensor: 2-D numbers, or one 1-D row. */
export function explainRequestOf(t: Tensor | undefined, params?: Record<string, unknown>): ExplainRequest {
  if (!t) throw badInput('the request holds no input to explain');
  if (t.datatype === 'BYTES') throw badInput('explainers take rows of numbers, got BYTES');
  const shape = t.shape.length === 1 ? [1, t.shape[0]] : t.shape;
  if (shape.length !== 2) throw badInput(`expected a 2-D batch of rows to explain, got shape [${t.shape}]`);
  const names = Array.isArray(t.parameters?.names) ? (t.parameters.names as unknown[]).map(String) : undefined;
  return { X: asFloat64(t), nRows: shape[0], nFeatures: shape[1], names, params };
}

function paramsOf(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return paramsOf(parseJson(Buffer.from(v)));
  if (typeof v !== 'object' || Array.isArray(v)) throw badInput('explain parameters must be a JSON object');
  return v as Record<string, unknown>;
}

// Ingress forms: /seldon/<ns>/<deployment>/… and the explainer's own /seldon/<ns>/<deployment>-explainer/<predictor>/….
const SELDON = /^\/(?:seldon\/[^/]+\/[^/]+\/(?:[^/]+\/)?)?api\/v(?:1\.0|0\.1)\/explain$/;
const KSERVE = /^\/v1\/models\/([^/:]*):explain$/;

/** Wraps the server's request listener: explain paths here, everything else to `next`. */
export function withExplainRoutes(
  ctx: ServerContext,
  service: ExplainService,
  maxBodyBytes: number,
  next: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.raw({ type: () => true, limit: maxBodyBytes }));
  const v2 = new RegExp(`^/v2/models/${escape(service.name)}(?:/versions/[^/]+)?/infer$`);
  const send = (res: express.Response, body: unknown) => res.type('application/json').send(stringify(body));
  app.post(
    SELDON,
    route(ctx, 'seldon', 'explain', async (req, res) => {
      const msg = parseJson(req.body) as Record<string, unknown>;
      const input = decodeSeldonMessage(msg);
      send(res, await service.ready().explain(explainRequestOf(input.tensor, paramsOf(msg.parameters))));
    }),
  );
  app.post(
    KSERVE,
    route(ctx, 'kserve-v1', 'explain', async (req, res) => {
      const name = decodeURIComponent((req.params as Record<string, string>)[0]);
      if (name) ctx.plane.checkModel(name);
      const body = parseJson(req.body) as Record<string, unknown>;
      const request = decodeV1Request(body);
      send(res, await service.ready().explain(explainRequestOf(request.inputs[0], paramsOf(body.parameters))));
    }),
  );
  app.post(
    v2,
    route(ctx, 'v2', 'explain', async (req, res) => {
      const body = req.body as Buffer;
      if (!body.length) throw badInput('empty request body: send an inference request');
      const request = decodeV2Request(body);
      const explanation = await service.ready().explain(explainRequestOf(request.inputs[0], paramsOf(request.parameters?.explain_parameters)));
      // MLServer's alibi-explain runtime: one BYTES output "explain" holding the Explanation JSON string.
      send(res, {
        model_name: service.name,
        ...(request.id ? { id: request.id } : {}),
        parameters: { content_type: 'str' },
        outputs: [{ name: 'explain', datatype: 'BYTES', shape: [1], parameters: { content_type: 'str' }, data: [JSON.stringify(explanation)] }],
      });
    }),
  );
  app.use((req: express.Request, res: express.Response) => {
    sendError(res, protocolOfPath(req.path), notFound(`no route for ${req.method} ${req.path}`), ctx.log);
  });
  app.use((err: Error & { type?: string }, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const e = err.type === 'entity.too.large' ? tooLarge(`request body exceeds the limit of ${maxBodyBytes} bytes (MODELFLEET_MAX_BODY_SIZE)`) : badInput(`could not read the request body: ${err.message}`);
    sendError(res, protocolOfPath(req.path), e, ctx.log);
  });
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // Cheap tests first: this sits in front of every inference request.
    const mine = req.method === 'POST' && (path.endsWith('explain') ? SELDON.test(path) || KSERVE.test(path) : service.configured && v2.test(path));
    if (!mine) return next(req, res);
    // Counted in flight like inference, so a graceful stop waits for explanations too.
    ctx.plane.begin();
    res.once('close', () => ctx.plane.end());
    app(req, res);
  };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
