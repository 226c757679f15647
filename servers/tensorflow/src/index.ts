import { existsSync } from 'node:fs';
import { ConfigError, ONNX_PARAMETERS, onnxFileIn, onnxThreads, OnnxRuntime } from '@modelfleet/shared';
import type { ModelRuntime, RuntimeContext, ServerDefinition } from '@modelfleet/shared';
import { isSavedModel, savedModelRuntime } from './savedmodel.js';
import { TfServingProxyRuntime } from './tfserving.js';
import type { TfFormat } from './tfserving-json.js';

const WAYS =
  'put an ONNX export (model.onnx) in the model folder, set rest_endpoint to proxy to TF Serving, ' +
  'or give a SavedModel folder (saved_model.pb + variables/) with TensorFlow importable by Python';

/**
 * Three ways to serve a TensorFlow model, chosen by engine=auto in this order: an ONNX export in the folder (the
 * ONNX engine, no TensorFlow needed), a TF Serving to proxy to (rest_endpoint, as Seldon's tfserving-proxy), a
 * SavedModel through TensorFlow in Python.
 */
async function createRuntime(ctx: RuntimeContext): Promise<ModelRuntime> {
  const p = ctx.params;
  const engine = String(p.engine);
  const hasFolder = !!ctx.modelPath && existsSync(ctx.modelPath);
  const onnxFile = hasFolder && (engine === 'auto' || engine === 'onnx') ? onnxFileIn(ctx.modelPath) : undefined;
  const restEndpoint = typeof p.rest_endpoint === 'string' && p.rest_endpoint ? p.rest_endpoint : undefined;
  if (onnxFile) {
    ctx.log.info(`serving ${onnxFile} with the ONNX engine (an ONNX export of the TensorFlow model)`);
    return new OnnxRuntime({
      modelPath: onnxFile,
      name: ctx.modelName,
      version: ctx.modelVersion,
      platform: 'tensorflow',
      ...onnxThreads(p),
      workers: ctx.workers,
      inlineBudgetUs: ctx.inlineBudgetUs,
      maxQueue: ctx.maxQueue,
      log: ctx.log,
    });
  }
  if (engine === 'onnx') throw new ConfigError(`engine=onnx: no ONNX model in ${ctx.modelPath || '(no model_uri)'}`);
  if (restEndpoint && (engine === 'auto' || engine === 'tfserving')) {
    ctx.log.info(`serving by proxying to TF Serving at ${restEndpoint}`);
    return new TfServingProxyRuntime({
      name: ctx.modelName,
      version: ctx.modelVersion,
      restEndpoint,
      tfModelName: typeof p.model_name === 'string' && p.model_name ? p.model_name : ctx.modelName,
      signatureName: String(p.signature_name),
      modelInput: (p.model_input as string) || undefined,
      modelOutput: (p.model_output as string) || undefined,
      format: String(p.tfserving_format) as TfFormat,
      timeoutMs: Number(p.tfserving_timeout_ms),
      log: ctx.log,
    });
  }
  if (engine === 'tfserving') {
    throw new ConfigError(
      p.grpc_endpoint
        ? 'engine=tfserving: proxying over gRPC is not implemented; set rest_endpoint to TF Serving\'s REST address (port 8501 by default)'
        : 'engine=tfserving needs the rest_endpoint parameter (TF Serving\'s REST address, e.g. http://localhost:8501)',
    );
  }
  if (hasFolder && isSavedModel(ctx.modelPath)) return savedModelRuntime(ctx, String(p.signature_name));
  if (p.grpc_endpoint && !restEndpoint) {
    throw new ConfigError('grpc_endpoint is set but proxying over gRPC is not implemented: set rest_endpoint to TF Serving\'s REST address');
  }
  throw new ConfigError(`nothing to serve in ${ctx.modelPath || '(no model_uri)'}: ${WAYS}`);
}

const STRING = (name: string, description: string, extra: Partial<ServerDefinition['parameters'][number]> = {}) => ({ name, type: 'STRING' as const, description, ...extra });

export const definition: ServerDefinition = {
  implementation: 'TENSORFLOW_SERVER',
  image: 'modelfleet/tensorflowserver',
  description: 'TensorFlow models: an ONNX export, a TF Serving to proxy to, or a SavedModel in Python',
  parameters: [
    STRING('engine', 'auto: ONNX file in the folder, else TF Serving proxy when rest_endpoint is set, else SavedModel through Python', {
      default: 'auto',
      choices: ['auto', 'onnx', 'tfserving', 'savedmodel'],
    }),
    STRING('rest_endpoint', "TF Serving's REST address to proxy to, e.g. http://localhost:8501 (Seldon's operator passes http://0.0.0.0:2001)"),
    STRING('grpc_endpoint', "TF Serving's gRPC address (accepted for Seldon compatibility; proxying uses REST)"),
    STRING('model_name', "TF Serving's name for the model (default: this server's model name)"),
    STRING('signature_name', 'Signature to call (TF Serving proxy and SavedModel)', { default: 'serving_default' }),
    STRING('model_input', 'Signature input fed with the request tensor, when the request does not name it'),
    STRING('model_output', 'Signature output to answer with; others are dropped'),
    STRING('tfserving_format', 'TF Serving request format: row ({"instances"}) or columnar ({"inputs"})', { default: 'row', choices: ['row', 'columnar'] }),
    { name: 'tfserving_timeout_ms', type: 'INT', description: 'Timeout of one TF Serving call', default: 30_000 },
    ...ONNX_PARAMETERS,
  ],
  // Proxying needs no model files here: TF Serving has them.
  modelOptional: (params) => typeof params.rest_endpoint === 'string' && params.rest_endpoint !== '',
  createRuntime,
};
