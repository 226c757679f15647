/**
 * Which engine serves an MLflow model, best first. The native engine evaluates the model in TypeScript, but it
 * takes one numeric matrix, so it serves sklearn models (when the estimator exports and matches scikit-learn on a
 * probe batch) and XGBoost models whose inputs are numeric columns or one numeric table; the ONNX engine serves
 * the onnx flavor; everything else goes through the Python bridge, which calls the flavor's own predict.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { badInput, ConfigError, findPython, native, NativeRuntime, PythonNotFoundError, PythonRuntime } from '@modelfleet/shared';
import type { Datatype, Parameters, RuntimeContext, Tensor, TensorMetadata } from '@modelfleet/shared';
import type { Flavor, MlflowModel, Schema } from './mlmodel.js';
import type { ContentType, ModelInput } from './signature.js';
import { onnxEngine } from './onnx.js';

const LOADER = fileURLToPath(new URL('../python/mlflow_loader.py', import.meta.url));
export const PREDICTIONS = 'predictions';

export interface Prediction {
  outputs: Tensor[];
  contentType: ContentType;
}

export interface Engine {
  readonly name: 'native' | 'python' | 'onnx';
  load(): Promise<void>;
  predict(input: ModelInput, params: Record<string, unknown>): Promise<Prediction>;
  /** What the engine knows of the model's tensors, for metadata when the signature does not say. */
  describe(): { inputs: TensorMetadata[]; outputs: TensorMetadata[]; parameters: Parameters };
  unload(): Promise<void>;
}

/** Python modules each loader_module needs; custom loader modules get numpy and pandas. */
const PYTHON_MODULES: Record<string, string[]> = {
  'mlflow.sklearn': ['sklearn', 'numpy', 'pandas'],
  'mlflow.xgboost': ['xgboost', 'numpy', 'pandas'],
  'mlflow.lightgbm': ['lightgbm', 'numpy', 'pandas'],
  'mlflow.tensorflow': ['tensorflow', 'numpy', 'pandas'],
  'mlflow.keras': ['tensorflow', 'numpy', 'pandas'],
  'mlflow.pytorch': ['torch', 'numpy', 'pandas'],
  // A pickled mlflow.pyfunc.PythonModel subclass cannot be unpickled without MLflow itself.
  'mlflow.pyfunc.model': ['mlflow', 'pandas'],
};

export function pythonModules(loaderModule: string): string[] {
  return PYTHON_MODULES[loaderModule] ?? ['numpy', 'pandas'];
}

const NUMERIC_COLUMNS = new Set(['boolean', 'integer', 'long', 'float', 'double']);

/** Why a signature keeps a model off the native engine, or undefined when it does not. */
function nativeInputProblem(schema: Schema | undefined): string | undefined {
  if (!schema) return undefined;
  if (schema.kind === 'columns') {
    const bad = schema.columns.find((c) => !NUMERIC_COLUMNS.has(c.type) || !c.required);
    return bad ? `column ${bad.name ?? '?'} is ${bad.required ? bad.type : 'optional'}; the native engine takes numeric columns only` : undefined;
  }
  const t = schema.tensors;
  if (t.length !== 1 || t[0].shape.length !== 2 || !/^(float|int|uint|bool)/.test(t[0].dtype)) {
    return 'its tensor signature is not one numeric table';
  }
  return undefined;
}

/** Feeds a NativeRuntime one FP64 table built from the columns (in the model's feature order when it has one). */
class NativeEngine implements Engine {
  readonly name = 'native';

  constructor(
    private readonly runtime: NativeRuntime,
    private readonly output: string,
    private readonly featureOrder: string[] | undefined,
    private readonly facts: Parameters,
  ) {}

  load(): Promise<void> {
    return this.runtime.load();
  }

  private table(input: ModelInput): Tensor {
    if (input.contentType === 'np') return input.tensors[0];
    if (input.contentType === 'dict') throw badInput('this model takes one table, not a dict of tensors');
    const byName = new Map(input.tensors.map((c) => [c.name, c]));
    // Positional columns go in as they are, as scikit-learn takes a DataFrame without string column names.
    const columns = this.featureOrder && !input.positional
      ? this.featureOrder.map((name) => {
          const c = byName.get(name);
          if (!c) throw badInput(`column ${JSON.stringify(name)} is missing: the model was fitted with ${this.featureOrder!.join(', ')}`);
          return c;
        })
      : input.tensors;
    const n = columns[0]?.shape[0] ?? 0;
    const k = columns.length;
    const X = new Float64Array(n * k);
    columns.forEach((c, j) => {
      if (Array.isArray(c.data)) throw badInput(`column ${JSON.stringify(c.name)} holds strings; the model takes numbers`);
      const d = c.data;
      for (let i = 0; i < n; i++) X[i * k + j] = Number(d[i]);
    });
    return { name: 'input-0', datatype: 'FP64', shape: [n, k], data: X };
  }

  async predict(input: ModelInput): Promise<Prediction> {
    const r = await this.runtime.infer({ inputs: [this.table(input)], outputs: [{ name: this.output }] });
    return { outputs: [{ ...r.outputs[0], name: PREDICTIONS }], contentType: 'np' };
  }

  describe() {
    const md = this.runtime.metadata();
    const out = md.outputs.find((o) => o.name === this.output);
    return {
      inputs: md.inputs,
      outputs: out ? [{ ...out, name: PREDICTIONS }] : [],
      parameters: { ...md.parameters, native_output: this.output, ...this.facts },
    };
  }

  unload(): Promise<void> {
    return this.runtime.unload();
  }
}

/** The flavor's own predict in a pool of Python processes (mlflow_loader.py). */
class PythonEngine implements Engine {
  readonly name = 'python';

  constructor(private readonly runtime: PythonRuntime) {}

  load(): Promise<void> {
    return this.runtime.load();
  }

  async predict(input: ModelInput, params: Record<string, unknown>): Promise<Prediction> {
    const parameters = { content_type: input.contentType, params, ...(input.positional ? { positional: true } : {}) };
    const r = await this.runtime.infer({ inputs: input.tensors, outputs: [], parameters });
    return { outputs: r.outputs, contentType: (r.parameters?.content_type as ContentType | undefined) ?? 'np' };
  }

  describe() {
    const md = this.runtime.metadata();
    return { inputs: [], outputs: [], parameters: md.parameters ?? {} };
  }

  unload(): Promise<void> {
    return this.runtime.unload();
  }
}

export interface EngineChoice {
  engine: Engine;
  /** Said in the log: which engine and why. */
  reason: string;
}

function pythonEngine(model: MlflowModel, pyfunc: Flavor, ctx: RuntimeContext, modules: string[]): Engine {
  const columns = model.signature?.inputs?.kind === 'columns' ? model.signature.inputs.columns : [];
  return new PythonEngine(
    new PythonRuntime({
      name: ctx.modelName,
      version: ctx.modelVersion,
      platform: 'mlflow',
      modelPath: model.root,
      loaderPath: LOADER,
      loaderOptions: { pyfunc, flavors: model.flavors, columns },
      requiredModules: modules,
      workers: ctx.workers,
      maxQueue: ctx.maxQueue,
      // Queued single-table requests share one predict call; pyfunc models predict row by row.
      maxBatchRows: ctx.maxBatchRows,
      defaultOutputs: () => [],
      describe: () => ({ inputs: [], outputs: [] }),
      log: ctx.log,
    }),
  );
}

function nativeRuntime(ctx: RuntimeContext, platform: string, model: native.NativeModel, outputs: TensorMetadata[]): NativeRuntime {
  return new NativeRuntime({
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform,
    model,
    workers: ctx.workers,
    maxQueue: ctx.maxQueue,
    inlineBudgetUs: ctx.inlineBudgetUs,
    defaultOutputs: () => [],
    describe: () => ({ outputs }),
    log: ctx.log,
  });
}

type Refusal = { refused: string };

async function nativeSklearn(model: MlflowModel, pyfunc: Flavor, ctx: RuntimeContext): Promise<Engine | Refusal> {
  const sk = model.flavors.sklearn;
  if (!sk?.pickled_model) return { refused: 'the sklearn flavor names no pickled_model' };
  const output = String(pyfunc.predict_fn ?? 'predict');
  const problem = nativeInputProblem(model.signature?.inputs);
  if (problem) return { refused: problem };
  const file = path.join(model.root, String(sk.pickled_model));
  let exported: native.SklearnExportResult;
  try {
    // The same module list as the version report's, so both share one interpreter probe.
    exported = await native.exportSklearnFile(file, { pythonBin: (await findPython(pythonModules('mlflow.sklearn'))).bin });
  } catch (err) {
    return { refused: `export failed: ${((err as Error).message ?? '').split('\n').slice(-3).join(' ').trim()}` };
  }
  if ('unsupported' in exported) return { refused: exported.unsupported };
  if (!(output in exported.probe.outputs)) return { refused: `predict_fn ${output} is not among its native outputs` };
  let nm: native.NativeModel;
  try {
    nm = native.nativeFromSklearnExport(exported.export);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  const parity = native.checkParity(nm, exported.probe);
  if (!parity.ok) return { refused: `it disagrees with scikit-learn on the probe batch: ${parity.problems.slice(0, 3).join('; ')}` };
  // The matrix follows the columns the estimator was fitted with; without them, the signature's order.
  const inputs = model.signature?.inputs;
  const fitted = exported.feature_names ?? undefined;
  if (fitted && inputs?.kind === 'columns' && inputs.columns[0].name !== undefined) {
    const declared = new Set(inputs.columns.map((c) => c.name));
    const absent = fitted.filter((f) => !declared.has(f));
    if (absent.length) return { refused: `it was fitted with columns the signature does not declare (${absent.join(', ')})` };
  }
  const probe = exported.probe.outputs[output];
  const outputs: TensorMetadata[] = [{ name: output, datatype: probe.datatype as Datatype, shape: [-1, ...probe.shape.slice(1)] }];
  return new NativeEngine(nativeRuntime(ctx, 'mlflow', nm, outputs), output, fitted, {
    estimator: exported.estimator ?? nm.kind,
    sklearn_version: exported.sklearn_version ?? 'unknown',
    parity_max_relative_error: parity.maxRelError,
  });
}

async function nativeXgboost(model: MlflowModel, ctx: RuntimeContext): Promise<Engine | Refusal> {
  const xgb = model.flavors.xgboost;
  if (!xgb?.data) return { refused: 'the xgboost flavor names no data file' };
  const problem = nativeInputProblem(model.signature?.inputs);
  if (problem) return { refused: problem };
  let nm: native.NativeModel;
  try {
    nm = await native.loadXGBoostModel(path.join(model.root, String(xgb.data)), { log: (m) => ctx.log.info(m) });
  } catch (err) {
    if (err instanceof native.UnsupportedModelError) return { refused: err.message };
    throw err;
  }
  // pyfunc predicts with the class it was saved as: Booster.predict, or the scikit-learn wrapper's predict.
  const modelClass = String(xgb.model_class ?? 'xgboost.core.Booster');
  const output = modelClass.endsWith('.Booster') ? 'booster' : 'predict';
  const outputs: TensorMetadata[] = [{ name: output, datatype: output === 'predict' && nm.outputNames.includes('predict_proba') ? 'INT64' : 'FP32', shape: [-1] }];
  return new NativeEngine(nativeRuntime(ctx, 'mlflow', nm, outputs), output, undefined, { model_class: modelClass });
}

/** Chooses and builds the engine for the model's python_function loader_module. */
export async function chooseEngine(model: MlflowModel, pyfunc: Flavor, ctx: RuntimeContext, wanted: string): Promise<EngineChoice> {
  const loaderModule = String(pyfunc.loader_module ?? '');
  if (loaderModule === 'mlflow.onnx') return { engine: onnxEngine(model, ctx), reason: 'onnx flavor' };
  const natives: Record<string, () => Promise<Engine | Refusal>> = {
    'mlflow.sklearn': () => nativeSklearn(model, pyfunc, ctx),
    'mlflow.xgboost': () => nativeXgboost(model, ctx),
  };
  let why = `${loaderModule} has no native engine`;
  if (wanted !== 'python' && natives[loaderModule]) {
    const r = await natives[loaderModule]();
    if (!('refused' in r)) return { engine: r, reason: `${loaderModule} on the native engine` };
    if (wanted === 'native') throw new ConfigError(`engine=native cannot serve this ${loaderModule} model: ${r.refused}`);
    why = `native engine not used: ${r.refused}`;
  } else if (wanted === 'native') {
    throw new ConfigError(`engine=native: ${why}`);
  } else if (wanted === 'python') {
    why = 'engine=python';
  }
  const modules = pythonModules(loaderModule);
  try {
    await findPython(modules);
  } catch (err) {
    if (err instanceof PythonNotFoundError) throw new ConfigError(`${loaderModule || 'this'} model needs Python with ${modules.join(', ')}. ${err.message}`);
    throw err;
  }
  return { engine: pythonEngine(model, pyfunc, ctx, modules), reason: `${loaderModule} in Python (${why})` };
}
