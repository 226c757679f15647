/**
 * A server's own routes (MLflow's /invocations, /ping, /version) for the models of a repository. MLServer mounts a
 * runtime's custom handlers at the server's root; here each model's are also under its V2 path, so several MLflow
 * models are each addressable by name: `/v2/models/{m}[/versions/{v}]/invocations`. At the root they serve the
 * repository's only model, or answer 400 naming the models (as Seldon's bare paths do).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ServerContext } from '../context.js';
import type { ServerDefinition } from '../server-definition.js';
import type { ModelPlane, ModelRepository } from './repository.js';

export function mountModelRoutes(app: express.Express, ctx: ServerContext, repo: ModelRepository): void {
  // One small app per loaded model version (a reload is a new plane, so it gets its own), and one per server kind
  // at the root over the whole repository.
  const perPlane = new WeakMap<ModelPlane, express.Express>();
  const atRoot = new Map<ServerDefinition, express.Express>();
  const build = (def: ServerDefinition, plane: ServerContext['plane']) => {
    const sub = express();
    sub.disable('x-powered-by');
    sub.set('etag', false);
    def.routes!(sub, { ...ctx, plane });
    return sub;
  };
  const byName = (req: Request<{ name: string; version?: string }>, res: Response, next: NextFunction) => {
    let plane: ModelPlane;
    try {
      plane = repo.checkModel(req.params.name, req.params.version) as ModelPlane;
    } catch {
      return next(); // an unknown model: the 404 fallback answers
    }
    if (!plane.definition?.routes) return next();
    let sub = perPlane.get(plane);
    if (!sub) perPlane.set(plane, (sub = build(plane.definition, plane)));
    sub(req, res, next);
  };
  app.use('/v2/models/:name/versions/:version', byName);
  app.use('/v2/models/:name', byName);
  app.use((req, res, next) => {
    // The root routes of every kind of server the repository holds (loaded models only).
    const defs = new Set(repo.loadedDefinitions().filter((d) => d.routes));
    if (!defs.size) return next();
    const subs = [...defs].map((d) => {
      let sub = atRoot.get(d);
      if (!sub) atRoot.set(d, (sub = build(d, repo)));
      return sub;
    });
    const run = (i: number) => (i < subs.length ? subs[i](req, res, () => run(i + 1)) : next());
    run(0);
  });
}
