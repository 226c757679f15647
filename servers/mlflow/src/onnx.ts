import { ConfigError } from '@modelfleet/shared';
import type { RuntimeContext } from '@modelfleet/shared';
import type { Engine } from './engines.js';
import type { MlflowModel } from './mlmodel.js';

/**
 * The `onnx` flavor (loader_module mlflow.onnx) is served by the ONNX engine, which this build does not have yet:
 * the one place to connect it (an Engine over the model's `flavors.onnx.onnx_model_path`) once it lands.
 */
export function onnxEngine(model: MlflowModel, _ctx: RuntimeContext): Engine {
  const file = String(model.flavors.onnx?.onnx_model_path ?? 'model.onnx');
  throw new ConfigError(`onnx flavor needs the ONNX engine, which this build of modelfleet does not include (model file ${file})`);
}
