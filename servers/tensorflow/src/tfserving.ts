/**
 * TENSORFLOW_SERVER as a proxy to TF Serving's REST API, the way Seldon's tfserving-proxy is configured
 * (rest_endpoint, model_name, signature_name, model_input, model_output). Every protocol we speak becomes a
 * `POST <rest_endpoint>/v1/models/<model_name>:predict`; TF Serving's answer, or its error, comes back in the
 * caller's protocol.
 */
import { badInput, fetchJson, internal, kindOfStatus, ServingError, unavailable } from '@modelfleet/shared';
import type { Datatype, InferenceRequest, InferenceResponse, Logger, ModelMetadata, ModelRuntime, ProtocolName, TensorMetadata } from '@modelfleet/shared';
import { parsePredictResponse, predictBody, TF_DTYPES, type TfFormat } from './tfserving-json.js';

export interface TfServingProxyOptions {
  /** Our model's name (what callers use in V2 paths). */
  name: string;
  version?: string;
  restEndpoint: string;
  /** TF Serving's name for the model (Seldon's operator passes the graph node name). */
  tfModelName: string;
  signatureName: string;
  /** Signature input to feed with the request's tensor, when the request's own names are not TF's. */
  modelInput?: string;
  /** Signature output to answer with (others are dropped), as Seldon's proxy does. */
  modelOutput?: string;
  format: TfFormat;
  timeoutMs: number;
  log: Logger;
}

interface Signature {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** Names our codecs give a tensor when the caller gave none: these are not TF signature names. */
const GENERIC_INPUTS = new Set(['input-0', 'instances', 'inputs']);

export class TfServingProxyRuntime implements ModelRuntime {
  private readonly base: string;
  private signature?: Signature;

  constructor(private readonly opts: TfServingProxyOptions) {
    this.base = `${opts.restEndpoint.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(opts.tfModelName)}`;
    if (!/^https?:\/\//.test(this.base)) this.base = `http://${this.base}`;
  }

  /**
   * Reads the signature from TF Serving's metadata endpoint for our metadata and output types. TF Serving may start
   * after us (a sidecar), so an unreachable TF Serving is a warning, not a failed load: requests say what is wrong.
   */
  async load(): Promise<void> {
    const { opts } = this;
    opts.log.info(
      `TF Serving proxy: ${this.base}:predict, signature ${opts.signatureName}, ${opts.format} format` +
        `${opts.modelInput ? `, input ${opts.modelInput}` : ''}${opts.modelOutput ? `, output ${opts.modelOutput}` : ''}`,
    );
    try {
      const r = await fetch(`${this.base}/metadata`, { signal: AbortSignal.timeout(Math.min(opts.timeoutMs, 5000)) });
      if (!r.ok) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
      this.signature = signatureFrom(await r.json(), opts.signatureName);
      if (this.signature) {
        opts.log.info(`TF Serving signature ${opts.signatureName}: inputs ${this.signature.inputs.map((i) => i.name).join(', ')}; outputs ${this.signature.outputs.map((o) => o.name).join(', ')}`);
      }
    } catch (err) {
      opts.log.warn(`TF Serving metadata not available yet (${(err as Error).message}); serving anyway`);
    }
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const { opts } = this;
    if (!request.inputs.length) throw badInput('the request holds no input tensor');
    let inputs = request.inputs;
    let named = inputs.length > 1 || !GENERIC_INPUTS.has(inputs[0].name);
    if (opts.modelInput && inputs.length === 1) {
      inputs = [{ ...inputs[0], name: opts.modelInput }];
      named = true;
    }
    const body = predictBody(inputs, named, opts.format, opts.signatureName);
    const answer = await this.post(body);
    const dtypes: Record<string, Datatype> = Object.fromEntries((this.signature?.outputs ?? []).map((o) => [o.name, o.datatype]));
    const single = opts.modelOutput ?? this.signature?.outputs[0]?.name ?? 'predictions';
    let outputs = parsePredictResponse(answer, single, dtypes);
    if (opts.modelOutput && outputs.length > 1) outputs = outputs.filter((o) => o.name === opts.modelOutput);
    const wanted = request.outputs?.map((o) => o.name) ?? [];
    if (wanted.length) {
      const missing = wanted.filter((w) => !outputs.some((o) => o.name === w));
      if (missing.length) throw badInput(`TF Serving's answer has no output ${missing.join(', ')}; it has ${outputs.map((o) => o.name).join(', ')}`);
      outputs = wanted.map((w) => outputs.find((o) => o.name === w)!);
    }
    return { id: request.id, outputs };
  }

  private async post(body: unknown): Promise<unknown> {
    const url = `${this.base}:predict`;
    const r = await fetchJson(url, { body, timeoutMs: this.opts.timeoutMs }, (cause) =>
      unavailable(`TF Serving at ${this.opts.restEndpoint} is not reachable (${cause}): ${url}`),
    );
    if (r.ok) {
      if (r.json === undefined) throw internal(`TF Serving answered ${r.status} with a body that is not JSON: ${r.text.slice(0, 200)}`);
      return r.json;
    }
    const message = (r.json as { error?: unknown } | undefined)?.error;
    throw tfError(r.status, typeof message === 'string' ? message : r.text.slice(0, 500));
  }

  metadata(): ModelMetadata {
    return {
      name: this.opts.name,
      ...(this.opts.version ? { versions: [this.opts.version] } : {}),
      platform: 'tensorflow',
      inputs: this.signature?.inputs ?? [],
      outputs: this.signature?.outputs ?? [],
      parameters: {
        engine: 'tfserving-proxy',
        rest_endpoint: this.opts.restEndpoint,
        tfserving_model: this.opts.tfModelName,
        signature_name: this.opts.signatureName,
      },
    };
  }

  /** Seldon and KServe V1 answer one tensor (model_output, else TF's first); V2 answers every output. */
  defaultOutputs(protocol: ProtocolName): string[] {
    if (protocol === 'v2') return [];
    const first = this.opts.modelOutput ?? this.signature?.outputs[0]?.name;
    return first ? [first] : [];
  }

  async unload(): Promise<void> {}
}

/** TF Serving's status says whose fault it was; the kind keeps that for the caller's protocol. */
/** TF Serving's error status as the caller protocol's error kind (a 400 stays a bad request, a 404 a missing model). */
function tfError(status: number, message: string): ServingError {
  const kind = kindOfStatus(status);
  return new ServingError(kind, kind === 'internal' ? `TF Serving: ${message} (HTTP ${status})` : `TF Serving: ${message}`);
}

/** Inputs and outputs of one signature in TF Serving's GET /v1/models/<m>/metadata answer. */
function signatureFrom(doc: unknown, signatureName: string): Signature | undefined {
  const defs = (doc as { metadata?: { signature_def?: { signature_def?: Record<string, unknown> } } })?.metadata?.signature_def?.signature_def;
  const sig = defs?.[signatureName] as { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> } | undefined;
  if (!sig) return undefined;
  const describe = (m: Record<string, unknown> = {}): TensorMetadata[] =>
    Object.entries(m).map(([key, v]) => {
      const info = v as { dtype?: string; tensor_shape?: { dim?: Array<{ size?: string | number }>; unknown_rank?: boolean } };
      return {
        name: key,
        datatype: TF_DTYPES[info.dtype ?? ''] ?? 'BYTES',
        shape: info.tensor_shape?.unknown_rank ? [-1] : (info.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? -1)),
      };
    });
  return { inputs: describe(sig.inputs), outputs: describe(sig.outputs) };
}
