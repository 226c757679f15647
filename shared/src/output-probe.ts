/**
 * Output metadata as the model really answers. A loader can only guess an output's shape from the model's kind
 * (an XGBoost multi:softprob booster answers [N, classes] where [-1] was declared); one row of zeros through every
 * output at load shows it, and metadata then declares [-1, ...what came back] with the datatype that came back.
 */
import type { Logger } from './logger.js';
import type { ModelRuntime, TensorMetadata } from './runtime.js';

/** The probed outputs, or undefined when the model's input is not a numeric [-1, n] batch (nothing safe to send). */
export async function probeOutputs(runtime: ModelRuntime, log: Logger): Promise<TensorMetadata[] | undefined> {
  const md = runtime.metadata();
  const input = md.inputs[0];
  if (md.inputs.length !== 1 || input.datatype === 'BYTES' || input.shape.length !== 2 || !(input.shape[1] > 0)) return undefined;
  const n = input.shape[1];
  const probed: TensorMetadata[] = [];
  for (const o of md.outputs) {
    try {
      const r = await runtime.infer({ inputs: [{ name: input.name, datatype: 'FP64', shape: [1, n], data: new Float64Array(n) }], outputs: [{ name: o.name }] });
      const t = r.outputs.find((x) => x.name === o.name) ?? r.outputs[0];
      probed.push({ ...o, datatype: t.datatype, shape: [-1, ...t.shape.slice(1)] });
    } catch (err) {
      log.debug(`output ${o.name}: metadata keeps the declared shape (a row of zeros failed: ${(err as Error).message})`);
      probed.push(o);
    }
  }
  return probed;
}
