import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, findPython, native, NativeRuntime, ONNX_PARAMETERS, PythonRuntime } from '@modelfleet/shared';
import type { Datatype, ModelRuntime, ProtocolName, PythonModelInfo, RuntimeContext, ServerDefinition, TensorMetadata } from '@modelfleet/shared';
import { sklearnOnnxFile, sklearnOnnxRuntime } from './onnx.js';

const LOADER = fileURLToPath(new URL('../python/sklearn_loader.py', import.meta.url));
const WELL_KNOWN = ['model.joblib', 'model.pkl', 'model.pickle'];
const PICKLE = /\.(joblib|pkl|pickle)$/;

/** model.joblib | model.pkl | model.pickle, else exactly one *.joblib|*.pkl|*.pickle (MLServer's and KServe's rules). */
export function findModelFile(modelPath: string): string {
  if (statSync(modelPath).isFile()) return modelPath;
  const files = readdirSync(modelPath);
  for (const name of WELL_KNOWN) if (files.includes(name)) return path.join(modelPath, name);
  const candidates = files.filter((f) => PICKLE.test(f));
  if (candidates.length === 1) return path.join(modelPath, candidates[0]);
  if (candidates.length === 0) {
    throw new ConfigError(`no model file in ${modelPath}: expected model.joblib, model.pkl, model.pickle or one *.joblib|*.pkl|*.pickle`);
  }
  throw new ConfigError(`more than one model file in ${modelPath} (${candidates.join(', ')}): keep one, or name it model.joblib`);
}

interface SklearnInfo extends PythonModelInfo {
  estimator: string;
  final_estimator: string;
  feature_names?: string[] | null;
  classes?: Array<string | number | boolean> | null;
  library_version: string;
  pickled_version?: string | null;
}

function labelDatatype(classes: SklearnInfo['classes']): Datatype {
  if (!classes?.length) return 'FP64';
  if (classes.every((c) => typeof c === 'number' && Number.isInteger(c))) return 'INT64';
  if (classes.every((c) => typeof c === 'number')) return 'FP64';
  if (classes.every((c) => typeof c === 'boolean')) return 'BOOL';
  return 'BYTES';
}

function describe(raw: PythonModelInfo) {
  const info = raw as SklearnInfo;
  const nClasses = info.classes?.length ?? -1;
  const shapes: Record<string, TensorMetadata> = {
    predict: { name: 'predict', datatype: labelDatatype(info.classes), shape: [-1] },
    predict_proba: { name: 'predict_proba', datatype: 'FP64', shape: [-1, nClasses] },
    decision_function: { name: 'decision_function', datatype: 'FP64', shape: nClasses === 2 ? [-1] : [-1, nClasses] },
    transform: { name: 'transform', datatype: 'FP64', shape: [-1, -1] },
  };
  return {
    inputs: [
      {
        name: 'input-0',
        datatype: 'FP64' as Datatype,
        shape: [-1, info.n_features ?? -1],
        ...(info.feature_names ? { parameters: { feature_names: info.feature_names } } : {}),
      },
    ],
    outputs: info.outputs.map((o) => shapes[o]).filter(Boolean),
    parameters: {
      estimator: info.estimator,
      sklearn_version: info.library_version,
      ...(info.pickled_version ? { pickled_sklearn_version: info.pickled_version } : {}),
      ...(info.classes ? { classes: info.classes } : {}),
    },
  };
}

const PICKLED_VERSION = /from version (\S+) when using version (\S+)/;

/** Says so in the log when the pickle was written by another scikit-learn than the one serving it (native path). */
function reportVersions(warnings: string[], log: RuntimeContext['log']): string | undefined {
  for (const w of warnings) {
    const m = PICKLED_VERSION.exec(w);
    if (m && m[1] !== m[2]) {
      log.warn(`model was pickled with scikit-learn ${m[1]} and is served with ${m[2]}: check its predictions`);
      return m[1];
    }
  }
  return undefined;
}

async function createRuntime(ctx: RuntimeContext): Promise<ModelRuntime> {
  const method = String(ctx.params.method);
  const engine = String(ctx.params.engine);
  const predictProba = /^(1|true|yes)$/i.test(process.env.PREDICT_PROBA ?? '');
  const onnxFile = sklearnOnnxFile(ctx.modelPath, engine);
  if (onnxFile) return sklearnOnnxRuntime(onnxFile, ctx, method, predictProba);
  const file = findModelFile(ctx.modelPath);
  // Seldon answers the `method` parameter; V2 answers predict unless outputs are named (MLServer); KServe V1
  // answers predict unless PREDICT_PROBA=true (KServe's sklearnserver).
  const defaultOutputs = (protocol: ProtocolName) =>
    protocol === 'seldon' ? [method] : protocol === 'kserve-v1' && predictProba ? ['predict_proba'] : ['predict'];
  if (engine !== 'python') {
    const nativeRuntime = await tryNative(file, engine === 'native', ctx, defaultOutputs);
    if (nativeRuntime) return nativeRuntime;
  }
  return pythonRuntime(file, ctx, defaultOutputs);
}

/**
 * The native engine, if the estimator can be exported and the export agrees with scikit-learn on a probe batch
 * (random, edge and NaN rows) to 1e-9 relative; otherwise undefined (or, when forced, a start-up error).
 */
async function tryNative(
  file: string,
  forced: boolean,
  ctx: RuntimeContext,
  defaultOutputs: (p: ProtocolName) => string[],
): Promise<ModelRuntime | undefined> {
  const refuse = (reason: string) => {
    if (forced) throw new ConfigError(`engine=native cannot serve ${file}: ${reason}`);
    ctx.log.info(`native engine not used (${reason}); serving through Python`);
    return undefined;
  };
  let exported: native.SklearnExportResult;
  try {
    // A restart (or a model exported by `modelfleet export`) finds the export cached and starts no Python at all.
    const cached = await native.exportSklearnCached(file, { pythonBin: async () => (await findPython(['sklearn', 'numpy'])).bin, warn: (m) => ctx.log.warn(m) });
    exported = cached.result;
    if (cached.source !== 'export') ctx.log.info(`native export of ${path.basename(file)} found ${cached.source === 'beside' ? 'beside the model' : `in ${native.cacheDir()}`}: Python not started`);
  } catch (err) {
    if (forced) throw err;
    return refuse(`export failed: ${((err as Error).message ?? '').split('\n').slice(-3).join(' ').trim()}`);
  }
  if ('unsupported' in exported) return refuse(exported.unsupported);
  let model: native.NativeModel;
  try {
    model = native.nativeFromSklearnExport(exported.export);
  } catch (err) {
    return refuse((err as Error).message);
  }
  const parity = native.checkParity(model, exported.probe);
  if (!parity.ok) return refuse(`it disagrees with scikit-learn on the probe batch: ${parity.problems.slice(0, 3).join('; ')}`);
  ctx.log.info(
    `native engine matches scikit-learn on ${exported.probe.n_rows} probe rows (max relative error ${parity.maxRelError.toExponential(2)})`,
  );
  const pickled = reportVersions(exported.load_warnings ?? [], ctx.log);
  const outputs: TensorMetadata[] = Object.entries(exported.probe.outputs).map(([name, o]) => ({
    name,
    datatype: o.datatype as Datatype,
    shape: [-1, ...o.shape.slice(1)],
  }));
  return new NativeRuntime({
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'sklearn',
    model,
    workers: ctx.workers,
    maxQueue: ctx.maxQueue,
    inlineBudgetUs: ctx.inlineBudgetUs,
    defaultOutputs,
    describe: () => ({
      outputs,
      parameters: {
        estimator: exported.estimator ?? model.kind,
        sklearn_version: exported.sklearn_version,
        ...(pickled ? { pickled_sklearn_version: pickled } : {}),
        parity_max_relative_error: parity.maxRelError,
      },
    }),
    log: ctx.log,
  });
}

function pythonRuntime(file: string, ctx: RuntimeContext, defaultOutputs: (p: ProtocolName) => string[]): ModelRuntime {
  const runtime = new PythonRuntime({
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'sklearn',
    modelPath: file,
    loaderPath: LOADER,
    requiredModules: ['sklearn', 'joblib', 'numpy'],
    workers: ctx.workers,
    maxQueue: ctx.maxQueue,
    // Estimators predict row by row, so queued requests can share one call.
    maxBatchRows: ctx.maxBatchRows,
    probeOutputs: true,
    log: ctx.log,
    defaultOutputs,
    describe,
  });
  return {
    async load() {
      await runtime.load();
      const params = runtime.metadata().parameters ?? {};
      if (params.pickled_sklearn_version && params.pickled_sklearn_version !== params.sklearn_version) {
        ctx.log.warn(
          `model was pickled with scikit-learn ${String(params.pickled_sklearn_version)} and is served with ${String(params.sklearn_version)}: check its predictions`,
        );
      }
    },
    infer: (r) => runtime.infer(r),
    metadata: () => runtime.metadata(),
    defaultOutputs: (p) => runtime.defaultOutputs(p),
    unload: () => runtime.unload(),
  };
}

export const definition: ServerDefinition = {
  implementation: 'SKLEARN_SERVER',
  image: 'modelfleet/sklearnserver',
  description: 'scikit-learn models saved with joblib or pickle',
  parameters: [
    {
      name: 'method',
      type: 'STRING',
      description: 'What Seldon-protocol predictions return',
      default: 'predict_proba',
      choices: ['predict_proba', 'predict', 'decision_function'],
    },
    {
      name: 'engine',
      type: 'STRING',
      description:
        'auto: ONNX when the folder holds an .onnx file and no pickle; else native when the estimator exports and matches scikit-learn on a probe batch, else Python',
      default: 'auto',
      choices: ['auto', 'native', 'python', 'onnx'],
    },
    ...ONNX_PARAMETERS,
  ],
  createRuntime,
  async exportAhead(modelPath) {
    const file = findModelFile(modelPath);
    const { result } = await native.exportSklearnCached(file, { pythonBin: async () => (await findPython(['sklearn', 'numpy'])).bin, beside: true });
    if ('unsupported' in result) throw new ConfigError(`the native engine cannot serve ${file}: ${result.unsupported}`);
    return [file + native.BESIDE_SUFFIX];
  },
};
