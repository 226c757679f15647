/**
 * An MLflow model as the serving core sees it: every request goes through the signature (columns, types, tensor
 * shapes, params), then the engine. Outputs: V2 and /invocations get every output the model gives (one per
 * DataFrame column, or "predictions"); Seldon and KServe V1 get "predictions", one table whose Seldon names are
 * the DataFrame's columns.
 */
import { badInput } from '@modelfleet/shared';
import type { InferenceRequest, InferenceResponse, Logger, ModelMetadata, ModelRuntime, Parameters, ProtocolName, Tensor } from '@modelfleet/shared';
import { PREDICTIONS, type Engine } from './engines.js';
import { parseScoringJson } from './invocations.js';
import type { MlflowModel } from './mlmodel.js';
import { enforceParams, modelInput, schemaMetadata } from './signature.js';

export interface MlflowRuntimeOptions {
  name: string;
  version?: string;
  model: MlflowModel;
  engine: Engine;
  xtype: string;
  /** Facts for the metadata: flavor, versions report, why this engine. */
  facts: Parameters;
  log: Logger;
}

/** Outputs as one [n, k] table named by the outputs (Seldon's data.names); undefined when they are not columns. */
function asTable(outputs: Tensor[]): Tensor | undefined {
  const n = outputs[0]?.shape[0];
  const isColumn = (t: Tensor) => t.shape[0] === n && (t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1));
  if (n === undefined || !outputs.every(isColumn)) return undefined;
  const k = outputs.length;
  const names = outputs.map((t) => t.name);
  const shape = [n, k];
  if (outputs.every((t) => !Array.isArray(t.data))) {
    const data = new Float64Array(n * k);
    outputs.forEach((t, j) => {
      const d = t.data as ArrayLike<number | bigint>;
      for (let i = 0; i < n; i++) data[i * k + j] = Number(d[i]);
    });
    return { name: PREDICTIONS, datatype: 'FP64', shape, data, parameters: { names } };
  }
  const data: string[] = new Array(n * k);
  outputs.forEach((t, j) => {
    const d = t.data as ArrayLike<unknown>;
    for (let i = 0; i < n; i++) data[i * k + j] = typeof d[i] === 'string' ? (d[i] as string) : String(typeof d[i] === 'bigint' ? Number(d[i]) : d[i]);
  });
  return { name: PREDICTIONS, datatype: 'BYTES', shape, data, parameters: { names } };
}

export class MlflowRuntime implements ModelRuntime {
  /** MLflow's schema enforcement drops columns the signature does not name. */
  readonly acceptsExtraInputs = true;

  constructor(private readonly opts: MlflowRuntimeOptions) {}

  async load(): Promise<void> {
    await this.opts.engine.load();
    await this.checkExample();
  }

  /** Runs the saved input example once: a model that cannot answer its own example is worth a warning at start-up. */
  private async checkExample(): Promise<void> {
    const example = this.opts.model.servingExample;
    if (example === undefined) return;
    try {
      const r = await this.infer({ ...parseScoringJson(example), outputs: [] });
      this.opts.log.info(`input example answered: ${r.outputs.map((o) => `${o.name} [${o.shape}]`).join(', ')}`);
    } catch (err) {
      this.opts.log.warn(`the model's input example fails: ${(err as Error).message}`);
    }
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const sig = this.opts.model.signature;
    const input = modelInput(request, sig?.inputs, this.opts.xtype);
    const params = enforceParams(request.parameters, sig?.params);
    const prediction = await this.opts.engine.predict(input, params);
    return { id: request.id, outputs: this.select(prediction.outputs, request.outputs?.map((o) => o.name) ?? []), parameters: { content_type: prediction.contentType } };
  }

  /** No names: every output. "predictions": the whole answer as one tensor. Other names: those outputs. */
  private select(outputs: Tensor[], names: string[]): Tensor[] {
    if (!names.length) return outputs;
    return names.map((name) => {
      const found = outputs.find((o) => o.name === name);
      if (found) return found;
      if (name === PREDICTIONS) {
        const table = asTable(outputs);
        if (table) return table;
        throw badInput(`the model answers several tensors (${outputs.map((o) => o.name).join(', ')}); ask for them by name over V2 or /invocations`);
      }
      throw badInput(`model ${this.opts.name} has no output "${name}"; available: ${[PREDICTIONS, ...outputs.map((o) => o.name)].join(', ')}`);
    });
  }

  metadata(): ModelMetadata {
    const { model, engine } = this.opts;
    const described = engine.describe();
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: 'mlflow',
      inputs: model.signature?.inputs ? schemaMetadata(model.signature.inputs, 'input') : described.inputs,
      outputs: model.signature?.outputs ? schemaMetadata(model.signature.outputs, 'output') : described.outputs,
      parameters: {
        ...described.parameters,
        engine: engine.name,
        ...this.opts.facts,
        ...(model.signature?.inputs ? { content_type: model.signature.inputs.kind === 'columns' ? 'pd' : model.signature.inputs.tensors[0].name ? 'dict' : 'np' } : {}),
      },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    return protocol === 'v2' ? [] : [PREDICTIONS];
  }

  unload(): Promise<void> {
    return this.opts.engine.unload();
  }
}
