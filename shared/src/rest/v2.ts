/** V2 Open Inference Protocol REST routes. Health answers 200 with a small JSON body, 503 when false. */
import type { Express, Request } from 'express';
import { decodeV2Request, encodeV2Response, BINARY_HEADER } from '../codecs/v2.js';
import { badInput } from '../errors.js';
import type { RestContext } from './context.js';
import { route } from './context.js';

export const V2_EXTENSIONS = ['binary_tensor_data'];

function params(req: Request): { name: string; version?: string } {
  const p = req.params as Record<string, string | undefined>;
  return { name: p.name ?? '', version: p.version };
}

export function mountV2(app: Express, ctx: RestContext): void {
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
      ctx.plane.checkModel(name, version);
      res.status(ctx.plane.ready ? 200 : 503).json({ name, ready: ctx.plane.ready });
    }),
  );
  app.get(
    modelPaths(''),
    route(ctx, 'v2', 'model_metadata', (req, res) => {
      const { name, version } = params(req);
      ctx.plane.checkModel(name, version);
      res.json(ctx.plane.metadata());
    }),
  );
  app.post(
    modelPaths('/infer'),
    route(ctx, 'v2', 'infer', async (req, res) => {
      const { name, version } = params(req);
      ctx.plane.checkModel(name, version);
      const headerLen = req.headers[BINARY_HEADER];
      let headerLength: number | undefined;
      if (headerLen !== undefined) {
        headerLength = Number(headerLen);
        if (!Number.isInteger(headerLength)) throw badInput(`${BINARY_HEADER} must be an integer`);
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!body.length) throw badInput('empty request body: send an inference request');
      const request = decodeV2Request(body, headerLength);
      const response = await ctx.plane.infer(request, 'v2');
      const encoded = encodeV2Response(response, request, ctx.plane.model);
      if (encoded.headers) res.set(encoded.headers);
      res.type(encoded.contentType).send(encoded.body);
    }),
  );
}
