/** Seldon protocol REST routes other than predictions (those are in inference.ts): feedback, health, metadata. */
import type { Express } from 'express';
import { badInput } from '../errors.js';
import { decodeSeldonMessage, responseMeta } from '../codecs/seldon-json.js';
import type { RestContext } from './context.js';
import { route } from './context.js';
import { seldonBody } from './inference.js';

export function mountSeldon(app: Express, ctx: RestContext): void {
  const feedback = route(ctx, 'seldon', 'feedback', (req, res) => {
    const url = req.originalUrl ?? req.url;
    const body = seldonBody(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
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
