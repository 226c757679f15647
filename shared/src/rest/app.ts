import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { badInput, notFound, ServingError, tooLarge } from '../errors.js';
import type { ServerContext } from '../context.js';
import { protocolOfPath, sendError } from './context.js';
import { mountDocs } from './docs.js';
import { mountKserveV1 } from './kserve-v1.js';
import { mountSeldon } from './seldon.js';
import { mountV2 } from './v2.js';
import { mountRepository } from '../repository/rest.js';

export interface RestOptions {
  maxBodyBytes: number;
  /** The server definition's own routes (ServerDefinition.routes). */
  routes?: (app: express.Express, ctx: ServerContext) => void;
}

/** One HTTP app for every protocol: Seldon, V2 and KServe V1 share the port, as users expect of a drop-in. */
export function createRestApp(ctx: ServerContext, opts: RestOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // Counted from arrival, so a graceful stop also waits for requests whose bodies are still streaming in.
    ctx.plane.begin();
    res.once('close', () => ctx.plane.end());
    if (ctx.plane.state === 'stopping') res.setHeader('Connection', 'close');
    next();
  });
  app.set('etag', false); // no client revalidates these small documents; hashing each one is wasted work
  // Bodies stay raw: each protocol parses its own (JSON, form, or V2 binary).
  app.use(express.raw({ type: () => true, limit: opts.maxBodyBytes }));
  app.use((req, res, next) => {
    // CORS like Seldon's flask-cors: browser tools can call the model directly.
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Headers', '*');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.status(204).end();
      return;
    }
    next();
  });
  mountSeldon(app, ctx);
  mountV2(app, ctx);
  mountRepository(app, ctx);
  mountKserveV1(app, ctx);
  mountDocs(app, ctx);
  opts.routes?.(app, ctx);
  app.get('/', (_req, res) => {
    res.json({ status: 'alive' }); // KServe's liveness route
  });
  app.use((req: Request, res: Response) => {
    sendError(res, protocolOfPath(req.path), notFound(`no route for ${req.method} ${req.path}`), ctx.log);
  });
  app.use((err: Error & { type?: string; length?: number; limit?: number }, req: Request, res: Response, _next: NextFunction) => {
    const protocol = protocolOfPath(req.path);
    if (err.type === 'entity.too.large') {
      sendError(res, protocol, tooLarge(`request body${err.length === undefined ? '' : ` of ${err.length} bytes`} exceeds the limit of ${err.limit} bytes (MODELFLEET_MAX_BODY_SIZE)`), ctx.log);
    } else if (err.type === 'encoding.unsupported') {
      sendError(res, protocol, new ServingError('bad_input', `unsupported Content-Encoding: ${err.message} (send identity, gzip, deflate or br)`, { status: 415 }), ctx.log);
    } else if (err instanceof URIError) {
      sendError(res, protocol, badInput(`malformed percent-encoding in the path: ${err.message}`), ctx.log);
    } else {
      sendError(res, protocol, badInput(`could not read the request body: ${err.message}`), ctx.log);
    }
  });
  return app;
}
