/** V2 REST routes other than infer (in inference.ts). Health answers 200 with a small JSON body, 503 when false. */
import type { Express, Request } from 'express';
import type { ServerContext } from '../context.js';
import { route } from './context.js';

export const V2_EXTENSIONS = ['binary_tensor_data'];

function params(req: Request): { name: string; version?: string } {
  const p = req.params as Record<string, string | undefined>;
  return { name: p.name ?? '', version: p.version };
}

export function mountV2(app: Express, ctx: ServerContext): void {
  app.get(
    '/v2',
    route(ctx, 'v2', 'server_metadata', (_req, res) => {
      res.json({ name: ctx.serverName, version: ctx.serverVersion, extensions: V2_EXTENSIONS });
    }),
  );
  app.get('/v2/health/live', (_req, res) => {
    res.status(ctx.plane.live ? 200 : 503).json({ live: ctx.plane.live });
  });
  app.get('/v2/health/ready', (_req, res) => {
    res.status(ctx.plane.ready ? 200 : 503).json({ ready: ctx.plane.ready });
  });
  const modelPaths = (suffix: string) => [`/v2/models/:name${suffix}`, `/v2/models/:name/versions/:version${suffix}`];
  app.get(
    modelPaths('/ready'),
    route(ctx, 'v2', 'model_ready', (req, res) => {
      const { name, version } = params(req);
      const plane = ctx.plane.checkModel(name, version);
      res.status(plane.ready ? 200 : 503).json({ name, ready: plane.ready });
    }),
  );
  app.get(
    modelPaths(''),
    route(ctx, 'v2', 'model_metadata', (req, res) => {
      const { name, version } = params(req);
      res.json(ctx.plane.checkModel(name, version).metadata());
    }),
  );
}
