/** KServe V1 REST routes other than :predict (in inference.ts). */
import type { Express } from 'express';
import type { ServerContext } from '../context.js';
import { route } from './context.js';

export function mountKserveV1(app: Express, ctx: ServerContext): void {
  app.get(
    '/v1/models',
    route(ctx, 'kserve-v1', 'models', (_req, res) => {
      res.json({ models: ctx.plane.modelNames() });
    }),
  );
  const model = /^\/v1\/models\/([^/:]+)$/;
  app.get(
    model,
    route(ctx, 'kserve-v1', 'model_ready', (req, res) => {
      const name = (req.params as Record<string, string>)[0];
      const plane = ctx.plane.checkModel(name);
      res.status(plane.ready ? 200 : 503).json({ name, ready: plane.ready });
    }),
  );
}
