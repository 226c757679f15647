import type { Express } from 'express';
import type { ParameterSpec } from './config/parameters.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics/registry.js';
import type { ServerContext } from './context.js';
import type { ModelRuntime } from './runtime.js';
import type { RequestLogging } from './logging/index.js';

export interface RuntimeContext {
  modelName: string;
  modelVersion?: string;
  /** Local folder (or file) holding the model, after storage-init fetched it. */
  modelPath: string;
  params: Record<string, unknown>;
  workers: number;
  maxQueue: number;
  maxBatchRows: number;
  inlineBudgetUs: number;
  log: Logger;
  metrics: ServerMetrics;
  /** PREDICTIVE_UNIT_ID / PREDICTIVE_UNIT_IMAGE when set. */
  unit?: { id: string; image: string };
  /** Payload logging (graph nodes' `logger`). */
  requestLogging?: RequestLogging;
}

/** What a prepackaged server is: its Seldon implementation name, its parameters, and how it makes a runtime. */
export interface ServerDefinition {
  implementation: string;
  image: string;
  description: string;
  /** Parameters beyond model_uri, which every server takes. */
  parameters: ParameterSpec[];
  /** Takes any parameter, typed as given (a user class gets them as constructor keyword arguments). */
  anyParameters?: boolean;
  /** The model location when neither MODEL_URI nor model_uri is set. */
  defaultModelUri?: string;
  /** True when these parameters need no model_uri (a proxy: the model lives elsewhere); modelPath is then ''. */
  modelOptional?(params: Record<string, unknown>): boolean;
  createRuntime(ctx: RuntimeContext): Promise<ModelRuntime>;
  /**
   * A server's own HTTP routes beside the shared protocols (a format's native API, as MLServer runtimes register
   * custom handlers), mounted on the REST app before its 404 fallback. They reach the model through ctx.plane.
   */
  routes?(app: Express, ctx: ServerContext): void;
}

export const MODEL_URI_PARAMETER: ParameterSpec = {
  name: 'model_uri',
  type: 'STRING',
  description: 'Where the model is: a local folder, file://, pvc://, s3://, gs:// or http(s):// URI.',
};
