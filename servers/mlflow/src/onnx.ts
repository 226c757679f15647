/**
 * The `onnx` flavor (loader_module mlflow.onnx), served by the ONNX engine: the one place MLFLOW_SERVER connects to
 * it. OnnxEngine adapts any ModelRuntime over the ONNX file to MLflow's input forms, as MLflow's onnx pyfunc feeds
 * onnxruntime: a DataFrame becomes the single graph input as one table (or one column per named graph input), an
 * array the single input, a dict the inputs by name; every graph output is answered.
 */
import path from 'node:path';
import { badInput, onnxThreads, OnnxRuntime } from '@modelfleet/shared';
import type { ModelRuntime, Parameters, RuntimeContext, Tensor, TensorMetadata } from '@modelfleet/shared';
import type { Engine, Prediction } from './engines.js';
import type { MlflowModel } from './mlmodel.js';
import { castTensor, datatypeDtype, type ModelInput } from './signature.js';

const quote = (s: string) => JSON.stringify(s);

/** Checks and converts one tensor to what the graph input declares (JSON's FP64 converted by value, else strict). */
function toGraphInput(t: Tensor, spec: TensorMetadata): Tensor {
  const cast = castTensor(t, { name: spec.name, dtype: datatypeDtype(spec.datatype), shape: spec.shape }, `input tensor ${quote(spec.name)}`);
  return { ...cast, name: spec.name };
}

/** DataFrame columns stacked into one [n, k] table, as df.values gives onnxruntime. */
function stack(columns: Tensor[]): Tensor {
  const n = columns[0]?.shape[0] ?? 0;
  const k = columns.length;
  const data = new Float64Array(n * k);
  columns.forEach((c, j) => {
    if (Array.isArray(c.data)) throw badInput(`column ${quote(c.name)} holds strings; this ONNX model takes one numeric table`);
    const d = c.data;
    for (let i = 0; i < n; i++) data[i * k + j] = Number(d[i]);
  });
  return { name: 'table', datatype: 'FP64', shape: [n, k], data };
}

export class OnnxEngine implements Engine {
  readonly name = 'onnx';

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly facts: Parameters = {},
  ) {}

  load(): Promise<void> {
    return this.runtime.load();
  }

  /** The request's tensors as the graph's inputs, by name. */
  private feeds(input: ModelInput): Tensor[] {
    const graph = this.runtime.metadata().inputs;
    if (!graph.length) throw badInput('the ONNX graph declares no inputs');
    if (input.contentType === 'pd') {
      if (graph.length === 1) return [toGraphInput(stack(input.tensors), graph[0])];
      const byName = new Map(input.tensors.map((c) => [c.name, c]));
      return graph.map((g) => {
        const c = byName.get(g.name);
        if (!c) throw badInput(`missing column ${quote(g.name)}: the ONNX graph takes ${graph.map((x) => x.name).join(', ')}`);
        // A graph input of shape [n, 1] takes the column as a one-column table.
        return toGraphInput(g.shape.length === 2 ? { ...c, shape: [c.shape[0], 1] } : c, g);
      });
    }
    if (input.contentType === 'np') {
      if (graph.length !== 1) throw badInput(`the ONNX graph takes ${graph.length} named inputs (${graph.map((g) => g.name).join(', ')}); send them by name`);
      return [toGraphInput(input.tensors[0], graph[0])];
    }
    const byName = new Map(input.tensors.map((t) => [t.name, t]));
    // One tensor for a one-input graph goes in whatever it is called (Seldon and KServe V1 cannot name tensors).
    if (graph.length === 1 && input.tensors.length === 1 && !byName.has(graph[0].name)) byName.set(graph[0].name, input.tensors[0]);
    return graph.map((g) => {
      const t = byName.get(g.name);
      if (!t) throw badInput(`missing input tensor ${quote(g.name)}: the ONNX graph takes ${graph.map((x) => x.name).join(', ')}`);
      return toGraphInput(t, g);
    });
  }

  async predict(input: ModelInput): Promise<Prediction> {
    const outputs = this.runtime.metadata().outputs.map((o) => ({ name: o.name }));
    const r = await this.runtime.infer({ inputs: this.feeds(input), outputs });
    // MLflow answers a DataFrame for a DataFrame when every output is a column; otherwise a dict of arrays.
    const n = r.outputs[0]?.shape[0];
    const columns = r.outputs.every((o) => o.shape[0] === n && (o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1)));
    return { outputs: r.outputs, contentType: input.contentType === 'pd' && columns ? 'pd' : 'dict' };
  }

  describe() {
    const md = this.runtime.metadata();
    return { inputs: md.inputs, outputs: md.outputs, parameters: { ...md.parameters, ...this.facts } };
  }

  unload(): Promise<void> {
    return this.runtime.unload();
  }
}

/** The ONNX engine (shared OnnxRuntime) over `flavors.onnx.data` (older MLflow: onnx_model_path). */
export function onnxEngine(model: MlflowModel, ctx: RuntimeContext): Engine {
  const flavor = model.flavors.onnx ?? {};
  const file = path.join(model.root, String(flavor.data ?? flavor.onnx_model_path ?? 'model.onnx'));
  const runtime = new OnnxRuntime({
    modelPath: file,
    name: ctx.modelName,
    version: ctx.modelVersion,
    platform: 'mlflow',
    ...onnxThreads(),
    workers: ctx.workers,
    inlineBudgetUs: ctx.inlineBudgetUs,
    maxQueue: ctx.maxQueue,
    log: ctx.log,
  });
  return new OnnxEngine(runtime, { onnx_file: file });
}
