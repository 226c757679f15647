import { ConfigError, findPython } from '@modelfleet/shared';
import type { ModelRuntime, Parameters, RuntimeContext, ServerDefinition } from '@modelfleet/shared';
import { chooseEngine, pythonModules } from './engines.js';
import { checkEnvironment, declaredEnvironment, describeMismatch, type EnvironmentReport } from './environment.js';
import { mountScoringApi } from './invocations.js';
import { pyfuncFlavor, readMlflowModel } from './mlmodel.js';
import { MlflowRuntime } from './runtime.js';

export { readMlflowModel } from './mlmodel.js';
export { declaredEnvironment, parseRequirement, satisfies } from './environment.js';
export { castColumn, enforceParams } from './signature.js';
export { OnnxEngine } from './onnx.js';

/** The model's declared environment against the interpreter's; logged, and fatal under strict=true. */
async function reportEnvironment(ctx: RuntimeContext, model: ReturnType<typeof readMlflowModel>, modules: string[]): Promise<EnvironmentReport | undefined> {
  const declared = declaredEnvironment(model);
  let bin: string;
  try {
    bin = (await findPython(modules)).bin;
  } catch {
    return undefined; // no interpreter for this flavor: the engine choice says so
  }
  const report = await checkEnvironment(declared, bin);
  const { log } = ctx;
  if (report.python && !report.python.ok) log.warn(`model declares Python ${report.python.declared}; serving with Python ${report.python.installed}`);
  for (const m of report.mismatches) log.warn(`model declares ${describeMismatch(m)}`);
  const ok = report.packages.filter((p) => p.ok);
  if (ok.length) log.info(`declared versions matched: ${ok.map((p) => `${p.package} ${p.installed}`).join(', ')}`);
  if (ctx.params.strict === true && report.mismatches.length) {
    throw new ConfigError(`strict=true and the interpreter (${bin}) differs from what the model declares: ${report.mismatches.map(describeMismatch).join('; ')}`);
  }
  return report;
}

async function createRuntime(ctx: RuntimeContext): Promise<ModelRuntime> {
  const model = readMlflowModel(ctx.modelPath);
  const pyfunc = pyfuncFlavor(model);
  const loaderModule = String(pyfunc.loader_module ?? '');
  if (!loaderModule) throw new ConfigError('the python_function flavor names no loader_module');
  ctx.log.info(
    `MLflow model ${model.modelUuid ?? '(no model_uuid)'} (mlflow ${model.mlflowVersion ?? '?'}): flavors ${Object.keys(model.flavors).join(', ')}; ` +
      `signature ${model.signature?.inputs ? `${model.signature.inputs.kind === 'columns' ? model.signature.inputs.columns.length + ' column(s)' : model.signature.inputs.tensors.length + ' tensor(s)'}` : 'none'}`,
  );
  // Both start Python processes (a version probe, the native export): run them side by side.
  const [report, { engine, reason }] = await Promise.all([
    loaderModule === 'mlflow.onnx' ? undefined : reportEnvironment(ctx, model, pythonModules(loaderModule)),
    chooseEngine(model, pyfunc, ctx, String(ctx.params.engine)),
  ]);
  ctx.log.info(`serving ${reason}`);
  const facts: Parameters = {
    loader_module: loaderModule,
    flavors: Object.keys(model.flavors),
    engine_reason: reason,
    ...(model.mlflowVersion ? { mlflow_version: model.mlflowVersion } : {}),
    ...(model.modelUuid ? { model_uuid: model.modelUuid } : {}),
    ...(model.runId ? { run_id: model.runId } : {}),
    ...(report
      ? {
          declared_versions: Object.fromEntries(report.packages.map((p) => [p.package, { declared: p.declared, installed: p.installed, ok: p.ok }])),
          ...(report.python ? { python_version: report.python } : {}),
        }
      : {}),
  };
  return new MlflowRuntime({ name: ctx.modelName, version: ctx.modelVersion, model, engine, xtype: ctx.params.xtype === 'ndarray' ? 'ndarray' : 'DataFrame', facts, log: ctx.log });
}

export const definition: ServerDefinition = {
  implementation: 'MLFLOW_SERVER',
  image: 'modelfleet/mlflowserver',
  description: 'MLflow model folders (MLmodel + model files), served at once without building their conda environment',
  parameters: [
    {
      name: 'xtype',
      type: 'STRING',
      description: 'What a model without a signature gets from a Seldon/KServe table: ndarray, or (any other value, as in Seldon) a DataFrame with data.names as columns',
      default: 'ndarray',
    },
    {
      name: 'engine',
      type: 'STRING',
      description: 'auto: native for sklearn/xgboost models it reproduces exactly, else the flavor in Python',
      default: 'auto',
      choices: ['auto', 'native', 'python'],
    },
    {
      name: 'strict',
      type: 'BOOL',
      description: 'Refuse to start when the interpreter differs from the versions the model declares',
      default: false,
    },
  ],
  createRuntime,
  routes(app, ctx) {
    mountScoringApi(app, ctx, () => {
      // /version answers the MLflow version the model was saved with: the scoring protocol its clients expect.
      const v = ctx.plane.ready ? ctx.plane.metadata().parameters?.mlflow_version : undefined;
      return typeof v === 'string' ? v : ctx.serverVersion;
    });
  },
};
