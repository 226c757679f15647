import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, findPython, PythonNotFoundError, PythonRuntime } from '@modelfleet/shared';
import type { Datatype, ModelRuntime, ProtocolName, PythonModelInfo, RuntimeContext, TensorMetadata } from '@modelfleet/shared';

const LOADER = fileURLToPath(new URL('../python/tensorflow_loader.py', import.meta.url));

/** A TF2 SavedModel folder: saved_model.pb (or .pbtxt) next to variables/. */
export function isSavedModel(modelPath: string): boolean {
  if (!existsSync(modelPath) || !statSync(modelPath).isDirectory()) return false;
  return existsSync(path.join(modelPath, 'saved_model.pb')) || existsSync(path.join(modelPath, 'saved_model.pbtxt'));
}

const TF_TO_V2: Record<string, Datatype> = {
  float32: 'FP32', float64: 'FP64', float16: 'FP16', bfloat16: 'BF16', int8: 'INT8', int16: 'INT16', int32: 'INT32',
  int64: 'INT64', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64', bool: 'BOOL', string: 'BYTES',
};

interface TfInfo extends PythonModelInfo {
  inputs: Array<{ name: string; dtype: string; shape: number[] }>;
  output_specs: Array<{ name: string; dtype: string; shape: number[] }>;
  library_version: string;
}

const meta = (s: { name: string; dtype: string; shape: number[] }): TensorMetadata => ({ name: s.name, datatype: TF_TO_V2[s.dtype] ?? 'BYTES', shape: s.shape });

/**
 * The SavedModel served by TensorFlow in Python. When the interpreter cannot import tensorflow the start-up error
 * says so and names the two ways that need no TensorFlow here.
 */
export async function savedModelRuntime(ctx: RuntimeContext, signatureName: string): Promise<ModelRuntime> {
  try {
    await findPython(['tensorflow', 'numpy']);
  } catch (err) {
    if (!(err instanceof PythonNotFoundError)) throw err;
    throw new ConfigError(
      `${ctx.modelPath} is a TensorFlow SavedModel, but no Python interpreter here can import tensorflow ` +
        `(${err.tried.map((t) => `${t.bin}: ${t.problem}`).join('; ')}). Install TensorFlow for it (pip install tensorflow, ` +
        `or set PYTHON_BIN to an interpreter that has it), or serve the model one of the other two ways: ` +
        `(1) export it to ONNX (python -m tf2onnx.convert --saved-model <dir> --output model.onnx) and put model.onnx in the model folder; ` +
        `(2) run TF Serving on it and set the rest_endpoint parameter (with model_name) so this server proxies to it.`,
    );
  }
  // V2 answers every signature output; Seldon and KServe V1 answer the first.
  const defaultOutputs = (protocol: ProtocolName) => {
    const names = runtime.metadata().outputs.map((o) => o.name);
    return protocol === 'v2' ? names : names.slice(0, 1);
  };
  const runtime: PythonRuntime = new PythonRuntime({
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'tensorflow',
    modelPath: ctx.modelPath,
    loaderPath: LOADER,
    loaderOptions: { signature_name: signatureName },
    requiredModules: ['tensorflow', 'numpy'],
    workers: ctx.workers,
    maxQueue: ctx.maxQueue,
    // A graph is not necessarily row-wise (batch norm in training mode, sequence models): no merging.
    maxBatchRows: 1,
    defaultOutputs,
    describe: (raw) => {
      const info = raw as TfInfo;
      return {
        inputs: info.inputs.map(meta),
        outputs: info.output_specs.map(meta),
        parameters: { signature_name: signatureName, tensorflow_version: info.library_version },
      };
    },
    log: ctx.log,
  });
  ctx.log.info(`serving the SavedModel ${ctx.modelPath} through TensorFlow in Python (signature ${signatureName})`);
  return runtime;
}
