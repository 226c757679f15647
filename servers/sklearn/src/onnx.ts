import { readdirSync, statSync } from 'node:fs';
import { ConfigError, onnxFileIn, onnxThreads, OnnxRuntime } from '@modelfleet/shared';
import type { ModelRuntime, ProtocolName, RuntimeContext } from '@modelfleet/shared';

const PICKLE = /\.(joblib|pkl|pickle)$/;

/**
 * The ONNX file to serve instead of a pickle: chosen when engine=onnx, or (engine=auto) when the folder holds an
 * .onnx file and no pickle, as a model converted with sklearn-onnx is shipped.
 */
export function sklearnOnnxFile(modelPath: string, engine: string): string | undefined {
  const file = onnxFileIn(modelPath);
  if (engine === 'onnx') {
    if (!file) throw new ConfigError(`engine=onnx: no ONNX model in ${modelPath} (expected model.onnx or one *.onnx file)`);
    return file;
  }
  if (!file || engine !== 'auto') return undefined;
  const hasPickle = statSync(modelPath).isDirectory() && readdirSync(modelPath).some((f) => PICKLE.test(f));
  return hasPickle ? undefined : file;
}

/**
 * sklearn-onnx names a classifier's outputs output_label and output_probability: `method` picks between them for
 * Seldon (predict_proba by default, as for pickles), PREDICT_PROBA for KServe V1; V2 answers every output.
 */
export function sklearnOnnxRuntime(file: string, ctx: RuntimeContext, method: string, predictProba: boolean): ModelRuntime {
  const pick = (want: 'label' | 'prob') => {
    const names = runtime.outputNames();
    return [names.find((n) => (want === 'prob' ? /prob/i : /label/i).test(n)) ?? names[0]];
  };
  const runtime: OnnxRuntime = new OnnxRuntime({
    modelPath: file,
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'sklearn',
    ...onnxThreads(ctx.params),
    workers: ctx.workers,
    inlineBudgetUs: ctx.inlineBudgetUs,
    maxQueue: ctx.maxQueue,
    log: ctx.log,
    defaultOutputs: (protocol: ProtocolName) => {
      if (protocol === 'v2') return runtime.outputNames();
      const proba = protocol === 'seldon' ? method === 'predict_proba' : predictProba;
      return pick(proba ? 'prob' : 'label');
    },
  });
  ctx.log.info(`serving the ONNX model ${file} with the ONNX engine (no pickle in the folder)`);
  return runtime;
}
