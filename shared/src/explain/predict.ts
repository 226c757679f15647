/** The model an explainer calls, as a Predict function: the server's own runtime, or a remote Seldon / V2 server. */
import type { ModelRuntime } from '../runtime.js';
import { asFloat64 } from '../tensor.js';
import { ExplainError } from './errors.js';
import type { Predict } from './kernel-shap.js';

/** The output an explainer explains: `output` if set, else what the server's Seldon endpoint answers by default. */
export function explainedOutput(runtime: ModelRuntime, output?: string): string {
  const name = output ?? runtime.defaultOutputs('seldon')[0];
  if (!name) throw new ExplainError('the model names no default output: set the explainer config "output"');
  return name;
}

export function runtimePredict(runtime: ModelRuntime, output: string): Predict {
  return async (X, nRows) => {
    const nFeatures = X.length / nRows;
    const res = await runtime.infer({ inputs: [{ name: 'input-0', datatype: 'FP64', shape: [nRows, nFeatures], data: X }], outputs: [{ name: output }] });
    return tensorRows(res.outputs[0]?.datatype, res.outputs[0]?.shape, res.outputs[0] ? () => asFloat64(res.outputs[0]) : undefined, nRows);
  };
}

/** A model answer as nRows x width numbers (a 1-D answer is one column). */
export function tensorRows(datatype: string | undefined, shape: number[] | undefined, values: (() => Float64Array) | undefined, nRows: number): { data: Float64Array; width: number } {
  if (!values || !shape) throw new ExplainError('the model returned no output');
  if (datatype === 'BYTES') throw new ExplainError('the model returned strings: explainers need numbers (labels or scores)');
  const data = values();
  if (shape[0] !== nRows || data.length % nRows !== 0) throw new ExplainError(`the model answered shape [${shape}] for ${nRows} rows`);
  return { data, width: data.length / nRows };
}
