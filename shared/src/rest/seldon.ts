/** Seldon protocol REST routes other than predictions (those are in inference.ts): feedback, health, metadata. */
import type { Express, Request } from 'express';
import { seldonFeedback, seldonIdentity } from '../handlers/seldon.js';
import type { ServerContext } from '../context.js';
import { route } from './context.js';
import { seldonBody } from './inference.js';

export function mountSeldon(app: Express, ctx: ServerContext): void {
  const body = (req: Request) => {
    const url = req.originalUrl ?? req.url;
    return seldonBody(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  };
  const feedback = route(ctx, 'seldon', 'feedback', async (req, res) => {
    res.json(seldonFeedback(ctx, await body(req)));
  });
  app.post(['/send-feedback', '/api/v1.0/feedback', '/api/v0.1/feedback'], feedback);
  app.get('/send-feedback', feedback);

  // A prepackaged model has no transform hooks: Seldon answers the message itself.
  for (const [path, endpoint] of [['/transform-input', 'transform_input'], ['/transform-output', 'transform_output']]) {
    const identity = route(ctx, 'seldon', endpoint, async (req, res) => {
      res.json(seldonIdentity(ctx, await body(req)));
    });
    app.post(path, identity);
    app.get(path, identity);
  }

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
