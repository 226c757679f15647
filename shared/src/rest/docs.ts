/** OpenAPI document and Swagger UI, served from local files (swagger-ui-dist) so docs work offline. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';
import type { Express } from 'express';
import type { ServerContext } from '../context.js';

const require = createRequire(import.meta.url);
const SPEC_PATH = new URL('../../openapi/openapi.json', import.meta.url);

function uiPage(specUrl: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>modelfleet API</title>
<link rel="stylesheet" href="swagger-ui.css"></head><body><div id="ui"></div>
<script src="swagger-ui-bundle.js"></script><script>
window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: '#ui' });
</script></body></html>`;
}

export function mountDocs(app: Express, ctx: ServerContext): void {
  // The spec and the Swagger UI assets are found on the first docs request, not at start.
  let spec: { info: { title: string } } | undefined;
  const sendSpec: express.RequestHandler = (_req, res) => {
    if (!spec) {
      spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { info: { title: string } };
      spec.info.title = `${ctx.serverName} — model ${ctx.plane.model.name}`;
    }
    res.json(spec);
  };
  let assets: express.RequestHandler | undefined;
  const serveAssets: express.RequestHandler = (req, res, next) =>
    (assets ??= express.static(path.dirname(require.resolve('swagger-ui-dist/package.json')), { index: false }))(req, res, next);
  app.get(['/seldon.json', '/api/v1.0/doc/openapi.json', '/v2/docs/dataplane.json'], sendSpec);
  for (const base of ['/api/v1.0/doc', '/v2/docs']) {
    const specUrl = base === '/v2/docs' ? '/v2/docs/dataplane.json' : '/api/v1.0/doc/openapi.json';
    app.get(base, (req, res) => {
      // Relative asset URLs need the trailing slash (express matches both spellings here).
      if (!req.originalUrl.split('?')[0].endsWith('/')) res.redirect(301, `${base}/`);
      else res.type('html').send(uiPage(specUrl));
    });
    app.use(base, serveAssets);
  }
}
