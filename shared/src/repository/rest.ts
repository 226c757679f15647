/**
 * V2 model repository extension over REST (MLServer's and Triton's paths): POST /v2/repository/index with an
 * optional {"ready": bool}, POST /v2/repository/models/{name}/load and /unload answering 200 with an empty body.
 * Errors are V2's {"error": "..."}: 404 for an unknown model, 400 for broken settings, 501 on a single-model server.
 */
import type { Express, Request } from 'express';
import type { ServerContext } from '../context.js';
import { badInput } from '../errors.js';
import { parseJson, route } from '../rest/context.js';

/** The optional JSON body of index/load/unload; an empty body is an empty object. */
function optionalBody(req: Request): Record<string, unknown> {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (!raw.toString('utf8').trim()) return {};
  const body = parseJson(raw);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function mountRepository(app: Express, ctx: ServerContext): void {
  app.post(
    '/v2/repository/index',
    route(ctx, 'v2', 'repository_index', (req, res) => {
      const { ready } = optionalBody(req);
      if (ready !== undefined && typeof ready !== 'boolean') throw badInput('"ready" must be a boolean');
      const rows = ctx.plane.index();
      res.json(ready ? rows.filter((r) => r.state === 'READY') : rows);
    }),
  );
  const name = (req: Request) => String((req.params as Record<string, string>).name);
  app.post(
    '/v2/repository/models/:name/load',
    route(ctx, 'v2', 'repository_load', async (req, res) => {
      const { parameters } = optionalBody(req);
      await ctx.plane.loadModel(name(req), parameters as Record<string, unknown> | undefined);
      res.status(200).end();
    }),
  );
  app.post(
    '/v2/repository/models/:name/unload',
    route(ctx, 'v2', 'repository_unload', async (req, res) => {
      optionalBody(req);
      await ctx.plane.unloadModel(name(req));
      res.status(200).end();
    }),
  );
}
