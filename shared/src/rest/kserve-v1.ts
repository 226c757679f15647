/** KServe V1 REST routes. */
import type { Express } from 'express';
import { decodeV1Request, encodeV1Response } from '../codecs/kserve-v1.js';
import type { RestContext } from './context.js';
import { parseJson, route } from './context.js';

export function mountKserveV1(app: Express, ctx: RestContext): void {
  app.get(
    '/v1/models',
    route(ctx, 'kserve-v1', 'models', (_req, res) => {
      res.json({ models: [ctx.plane.model.name] });
    }),
  );
  // One pattern for both: express paths cannot put a literal ':' after a parameter.
  const model = /^\/v1\/models\/([^/:]+)(:predict)?$/;
  app.get(
    model,
    route(ctx, 'kserve-v1', 'model_ready', (req, res) => {
      const name = (req.params as Record<string, string>)[0];
      ctx.plane.checkModel(name);
      res.status(ctx.plane.ready ? 200 : 503).json({ name, ready: ctx.plane.ready });
    }),
  );
  app.post(
    model,
    route(ctx, 'kserve-v1', 'predict', async (req, res) => {
      const p = req.params as Record<string, string | undefined>;
      ctx.plane.checkModel(p[0]!);
      if (!p[1]) {
        res.status(405).json({ error: 'use POST /v1/models/<name>:predict' });
        return;
      }
      const request = decodeV1Request(parseJson(req.body));
      const response = await ctx.plane.infer(request, 'kserve-v1');
      res.json(encodeV1Response(response.outputs));
    }),
  );
}
