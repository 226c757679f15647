/**
 * Seldon protocol REST routes other than predictions (those are in inference.ts): feedback, transforms, route,
 * aggregate, health, metadata.
 */
import type { Express, Request, Response } from 'express';
import { stringify } from '../codecs/json-numbers.js';
import { seldonAggregate, seldonFeedback, seldonHealth, seldonRoute, seldonTransformInput, seldonTransformOutput } from '../handlers/seldon.js';
import type { ServerContext } from '../context.js';
import { route } from './context.js';
import { seldonBody } from './inference.js';

/** JSON with numeric tensors spliced in pre-serialised (see codecs/json-numbers.ts). */
const sendJson = (res: Response, value: unknown) => res.type('application/json').send(stringify(value));

export function mountSeldon(app: Express, ctx: ServerContext): void {
  const body = (req: Request) => {
    const url = req.originalUrl ?? req.url;
    return seldonBody(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  };
  const both = (paths: string | string[], endpoint: string, fn: (message: unknown) => Promise<unknown>, getToo = true) => {
    const handler = route(ctx, 'seldon', endpoint, async (req, res) => {
      sendJson(res, await fn(await body(req)));
    });
    app.post(paths, handler);
    if (getToo) app.get(paths, handler);
  };
  both(['/send-feedback'], 'feedback', (m) => seldonFeedback(ctx, m));
  both(['/api/v1.0/feedback', '/api/v0.1/feedback', '/seldon/:namespace/:deployment/api/v1.0/feedback'], 'feedback', (m) => seldonFeedback(ctx, m), false);
  both('/transform-input', 'transform_input', (m) => seldonTransformInput(ctx, m, true));
  both('/transform-output', 'transform_output', (m) => seldonTransformOutput(ctx, m, true));
  both('/route', 'route', (m) => seldonRoute(ctx, m));
  both('/aggregate', 'aggregate', (m) => seldonAggregate(ctx, m));

  // Liveness: the process answers. Readiness is /health/status.
  app.get('/health/ping', (_req, res) => {
    res.type('text/plain').send('pong');
  });
  app.get(
    ['/health/status', '/api/v1.0/health/status'],
    route(ctx, 'seldon', 'health', async (_req, res) => {
      sendJson(res, await seldonHealth(ctx));
    }),
  );
  app.get(
    ['/metadata', '/api/v1.0/metadata'],
    route(ctx, 'seldon', 'metadata', async (_req, res) => {
      sendJson(res, await ctx.seldonMetadata());
    }),
  );
}
