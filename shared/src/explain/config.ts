/**
 * Explainer settings of a model server (environment, documented in README "Explanations"), and starting the
 * explainer next to the model once it has loaded.
 */
import { fetchModel } from '@modelfleet/storage-init';
import { NativeRuntime } from '../native/runtime.js';
import type { Logger } from '../logger.js';
import type { ModelRuntime } from '../runtime.js';
import { ExplainError } from './errors.js';
import { createExplainer, type ExplainerSpec } from './explainer.js';
import { explainedOutput, runtimePredict } from './predict.js';
import { ExplainService } from './rest.js';

export interface ExplainerSettings {
  type?: string;
  /** Where the explainer's data (background rows) lives: any storage-init URI or a local path. */
  uri?: string;
  config: Record<string, string>;
  name: string;
}

/** Seldon's `config` map as JSON ({"threshold": "0.9"}); values become strings, as the operator passes them. */
export function parseConfig(text: string | undefined, where: string): Record<string, string> {
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ExplainError(`${where} is not JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ExplainError(`${where} must be a JSON object of settings`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
}

export function explainerSettings(env: NodeJS.ProcessEnv, modelName: string): ExplainerSettings {
  return {
    type: env.MODELFLEET_EXPLAINER_TYPE || undefined,
    uri: env.MODELFLEET_EXPLAINER_URI || undefined,
    config: parseConfig(env.MODELFLEET_EXPLAINER_CONFIG, 'MODELFLEET_EXPLAINER_CONFIG'),
    name: env.MODELFLEET_EXPLAINER_NAME || `${modelName}-explainer`,
  };
}

export function explainService(settings: ExplainerSettings): ExplainService {
  return new ExplainService(settings.name, settings.type !== undefined);
}

export interface AttachOptions {
  workers: number;
  inlineBudgetUs: number;
  log: Logger;
}

/** Builds the configured explainer over the loaded runtime; a failure is logged and answered by the explain routes. */
export async function attachExplainer(service: ExplainService, settings: ExplainerSettings, runtime: ModelRuntime, opts: AttachOptions): Promise<void> {
  if (!settings.type) return;
  try {
    const dataPath = settings.uri ? await fetchModel(settings.uri, { log: (m) => opts.log.info(m) }) : undefined;
    const spec: ExplainerSpec = { type: settings.type, dataPath, config: settings.config };
    const output = explainedOutput(runtime, settings.config.output);
    const native = runtime instanceof NativeRuntime ? runtime.nativeModel : undefined;
    service.explainer = await createExplainer(
      spec,
      { predict: runtimePredict(runtime, output), native, task: output === 'predict_proba' || output === 'decision_function' ? 'classification' : undefined },
      { workers: opts.workers, inlineBudgetUs: opts.inlineBudgetUs, log: (m) => opts.log.info(m) },
    );
    opts.log.info(`explainer ${service.explainer.type} ready: /api/v1.0/explain, /v1/models/<model>:explain, /v2/models/${service.name}/infer`);
  } catch (err) {
    service.failure = (err as Error).message;
    opts.log.error(`explainer ${settings.type} failed to start: ${service.failure}`);
  }
}
