/** V2 REST routes other than infer (in inference.ts). Health answers 200 with a small JSON body, 503 when false. */
import type { Express, Request } from 'express';
import type { ServerContext } from '../context.js';
import type { ModelMetadata, TensorMetadata } from '../runtime.js';
import type { Datatype } from '../tensor.js';
import { route } from './context.js';

// No "statistics": clients (perf_analyzer) then call /v2/models/{m}/stats, which is not served.
export const V2_EXTENSIONS = ['binary_tensor_data', 'model_configuration'];

/** Triton's model configuration types (model_config.proto DataType) for V2 datatypes. */
const TRITON_TYPE: Record<Datatype, string> = {
  BOOL: 'TYPE_BOOL',
  UINT8: 'TYPE_UINT8',
  UINT16: 'TYPE_UINT16',
  UINT32: 'TYPE_UINT32',
  UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8',
  INT16: 'TYPE_INT16',
  INT32: 'TYPE_INT32',
  INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16',
  FP32: 'TYPE_FP32',
  FP64: 'TYPE_FP64',
  BF16: 'TYPE_BF16',
  BYTES: 'TYPE_STRING',
};

/** Rows one request may carry, as Triton's max_batch_size tells clients such as perf_analyzer (0 = no batching). */
const MAX_BATCH_SIZE = 1024;

/**
 * Triton's model configuration (GET /v2/models/{m}/config, and gRPC ModelConfig's `config`): when every input's
 * first dimension is the batch (-1), max_batch_size > 0 and dims leave the batch out, as Triton's do; names and types
 * as in the metadata.
 */
export function tritonConfig(md: ModelMetadata): Record<string, unknown> {
  const batched = md.inputs.length > 0 && md.inputs.every((t) => t.shape[0] === -1) && md.outputs.every((t) => t.shape[0] === -1);
  const tensor = (t: TensorMetadata) => ({ name: t.name, data_type: TRITON_TYPE[t.datatype], dims: batched ? t.shape.slice(1) : t.shape });
  return {
    name: md.name,
    platform: md.platform,
    backend: md.platform,
    max_batch_size: batched ? MAX_BATCH_SIZE : 0,
    input: md.inputs.map(tensor),
    output: md.outputs.map(tensor),
  };
}

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
  // KServe's model list.
  app.get(
    '/v2/models',
    route(ctx, 'v2', 'models', (_req, res) => {
      res.json({ models: [ctx.plane.model.name] });
    }),
  );
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
    modelPaths('/config'),
    route(ctx, 'v2', 'model_config', (req, res) => {
      const { name, version } = params(req);
      res.json(tritonConfig(ctx.plane.checkModel(name, version).metadata()));
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
