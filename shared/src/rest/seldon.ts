/** Seldon protocol REST routes of a model microservice (as the Python wrapper serves them). */
import type { Express, Request } from 'express';
import { badInput } from '../errors.js';
import { decodeSeldonMessage, encodeSeldonData, responseMeta } from '../codecs/seldon-json.js';
import type { RestContext } from './context.js';
import { parseJson, route } from './context.js';

/** A Seldon request: JSON body, form field `json=`, or query arg `json=` (GET). */
function seldonBody(req: Request): unknown {
  const query = req.query?.json;
  if (typeof query === 'string') return parseJson(Buffer.from(query));
  const body = req.body as Buffer | undefined;
  const type = req.headers['content-type'] ?? '';
  if (type.includes('multipart/form-data')) throw badInput('multipart/form-data is not supported: send the SeldonMessage as JSON');
  if (type.includes('application/x-www-form-urlencoded') && Buffer.isBuffer(body)) {
    const text = body.toString('utf8');
    // curl -d sends this content type by default; a body that is plainly JSON is taken as JSON.
    if (!/^\s*[{[]/.test(text)) {
      const field = new URLSearchParams(text).get('json');
      if (field === null) throw badInput('form body has no "json" field');
      return parseJson(Buffer.from(field));
    }
  }
  return parseJson(body);
}

export function mountSeldon(app: Express, ctx: RestContext): void {
  const predict = route(ctx, 'seldon', 'predictions', async (req, res) => {
    const input = decodeSeldonMessage(seldonBody(req));
    if (!input.tensor) {
      throw badInput(`Invalid request data type: this server needs data.ndarray, data.tensor or data.tftensor, got ${input.form}`);
    }
    const response = await ctx.plane.infer({ inputs: [input.tensor] }, 'seldon');
    const out = response.outputs[0];
    res.json({ data: encodeSeldonData(out, input.form), meta: responseMeta(input.meta, ctx.unit) });
  });
  app.post(['/predict', '/api/v1.0/predictions', '/api/v0.1/predictions'], predict);
  app.get('/predict', predict);

  const feedback = route(ctx, 'seldon', 'feedback', (req, res) => {
    const body = seldonBody(req);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('Invalid JSON: feedback must be an object');
    const { reward, request, response, truth } = body as Record<string, unknown>;
    for (const [k, v] of Object.entries({ request, response, truth })) {
      if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) throw badInput(`Invalid JSON: feedback.${k} must be a SeldonMessage`);
    }
    if (reward !== undefined && typeof reward !== 'number') throw badInput('Invalid JSON: feedback.reward must be a number');
    if (reward) {
      ctx.metrics.feedback.inc({ method: 'feedback' });
      ctx.metrics.feedbackReward.inc({ method: 'feedback' }, reward);
    }
    // A prepackaged model has no send_feedback: the wrapper answers an empty tensor.
    const meta = request && typeof request === 'object' ? decodeSeldonMessage(request).meta : {};
    res.json({ data: { names: [], tensor: { shape: [0], values: [] } }, meta: responseMeta(meta, ctx.unit) });
  });
  app.post(['/send-feedback', '/api/v1.0/feedback', '/api/v0.1/feedback'], feedback);
  app.get('/send-feedback', feedback);

  // Liveness: the process answers. Readiness is /health/status.
  app.get('/health/ping', (_req, res) => {
    res.type('text/plain').send('pong');
  });
  app.get(
    ['/health/status', '/api/v1.0/health/status'],
    route(ctx, 'seldon', 'health', (_req, res) => {
      ctx.plane.metadata(); // throws not-ready (503) while loading or stopping
      res.json({ meta: {}, strData: 'healthy' });
    }),
  );
  app.get(
    ['/metadata', '/api/v1.0/metadata'],
    route(ctx, 'seldon', 'metadata', (_req, res) => {
      res.json(ctx.seldonMetadata());
    }),
  );
}
