import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, native, NativeRuntime, PythonRuntime } from '@modelfleet/shared';
import type { ModelRuntime, ProtocolName, PythonModelInfo, RuntimeContext, ServerDefinition, TensorMetadata } from '@modelfleet/shared';

const LOADER = fileURLToPath(new URL('../python/xgboost_loader.py', import.meta.url));
/** Seldon's, MLServer's and KServe's names, then Triton FIL's. */
const WELL_KNOWN = ['model.json', 'model.ubj', 'model.bst', 'xgboost.json', 'xgboost.ubj', 'xgboost.model'];
const MODEL_FILE = /\.(json|ubj|bst)$/;
const NOT_MODELS = new Set(['model-settings.json', 'settings.json', 'metadata.json']);

export function findModelFile(modelPath: string): string {
  if (statSync(modelPath).isFile()) return modelPath;
  const files = readdirSync(modelPath);
  for (const name of WELL_KNOWN) if (files.includes(name)) return path.join(modelPath, name);
  const candidates = files.filter((f) => MODEL_FILE.test(f) && !NOT_MODELS.has(f));
  if (candidates.length === 1) return path.join(modelPath, candidates[0]);
  if (!candidates.length) {
    throw new ConfigError(`no XGBoost model in ${modelPath}: expected ${WELL_KNOWN.join(', ')} or one *.json|*.ubj|*.bst`);
  }
  throw new ConfigError(`more than one model file in ${modelPath} (${candidates.join(', ')}): keep one, or name it model.json`);
}

/**
 * Seldon's XGBOOST_SERVER and KServe's xgbserver answer what booster.predict returns; V2 answers `predict` unless
 * outputs are named (MLServer's behaviour: labels for classifiers).
 */
const defaultOutputs = (protocol: ProtocolName) => (protocol === 'v2' ? ['predict'] : ['booster']);

async function createRuntime(ctx: RuntimeContext): Promise<ModelRuntime> {
  const file = findModelFile(ctx.modelPath);
  const engine = String(ctx.params.engine);
  if (engine !== 'python') {
    try {
      const model = await native.loadXGBoostModel(file, { log: (m) => ctx.log.info(m) });
      const outputs: TensorMetadata[] = model.outputNames.map((name) => ({
        name,
        datatype: name === 'predict' && model.outputNames.includes('predict_proba') ? 'INT64' : 'FP32',
        shape: [-1],
      }));
      return new NativeRuntime({
        name: ctx.modelName,
        version: ctx.modelVersion,
        platform: 'xgboost',
        model,
        workers: ctx.workers,
        maxQueue: ctx.maxQueue,
        inlineBudgetUs: ctx.inlineBudgetUs,
        defaultOutputs,
        describe: () => ({ outputs }),
        log: ctx.log,
      });
    } catch (err) {
      if (engine === 'native' || !(err instanceof native.UnsupportedModelError)) throw err;
      ctx.log.warn(`native engine cannot serve ${file} (${err.message}); falling back to xgboost in Python`);
    }
  }
  return new PythonRuntime({
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'xgboost',
    modelPath: file,
    loaderPath: LOADER,
    requiredModules: ['xgboost', 'numpy'],
    workers: ctx.workers,
    maxQueue: ctx.maxQueue,
    maxBatchRows: ctx.maxBatchRows,
    defaultOutputs,
    describe: (info: PythonModelInfo) => ({
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, info.n_features ?? -1] }],
      outputs: info.outputs.map((name) => ({ name, datatype: name === 'predict' ? 'INT64' : 'FP32', shape: [-1] })),
      parameters: { objective: info.objective, xgboost_version: info.library_version },
    }),
    probeOutputs: true,
    log: ctx.log,
  });
}

export const definition: ServerDefinition = {
  implementation: 'XGBOOST_SERVER',
  image: 'modelfleet/xgboostserver',
  description: 'XGBoost boosters: model.json, model.ubj, model.bst (and Triton FIL names)',
  parameters: [
    {
      name: 'engine',
      type: 'STRING',
      description: 'auto: native unless the model uses something it cannot reproduce exactly, then xgboost in Python',
      default: 'auto',
      choices: ['auto', 'native', 'python'],
    },
  ],
  createRuntime,
};
