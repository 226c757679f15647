import type { SeldonComponent } from './seldon/component.js';
import type { Datatype, Parameters, Tensor } from './tensor.js';

/** The protocol-neutral request every codec produces. */
export interface InferenceRequest {
  id?: string;
  inputs: Tensor[];
  /** Outputs asked for by name; absent means the runtime's default for the protocol. */
  outputs?: Array<{ name: string; parameters?: Parameters }>;
  parameters?: Parameters;
}

export interface InferenceResponse {
  id?: string;
  outputs: Tensor[];
  parameters?: Parameters;
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
  parameters?: Parameters;
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Facts for operators: engine in use, library versions, warnings from load. */
  parameters?: Parameters;
}

export type ProtocolName = 'seldon' | 'v2' | 'kserve-v1';

/**
 * A model as the serving core sees it: load, infer on tensors, describe itself, unload (Triton's narrow backend
 * interface). Runtimes never see a protocol; they only say which outputs each protocol gets by default.
 */
export interface ModelRuntime {
  load(): Promise<void>;
  infer(request: InferenceRequest): Promise<InferenceResponse>;
  metadata(): ModelMetadata;
  /** Default outputs when a request names none (Seldon's `method`, MLServer's `predict`, KServe's PREDICT_PROBA). */
  defaultOutputs(protocol: ProtocolName): string[];
  unload(): Promise<void>;
  /** Message-level Seldon hooks, for runtimes that answer Seldon calls themselves (the Python language wrapper). */
  readonly seldon?: SeldonComponent;
  /** Inputs the metadata does not declare are dropped rather than refused (MLflow's schema enforcement does so). */
  readonly acceptsExtraInputs?: boolean;
}
