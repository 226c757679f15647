/**
 * A model on another server, as Seldon's explainer container calls it (`--predictor_host`, `--protocol`):
 * seldon.http POSTs {"data":{"ndarray"}} to /api/v0.1/predictions, tensorflow.http {"instances"} to
 * /v1/models/NAME:predict, v2 one input "predict" to /v2/models/NAME/infer; every call carries `Seldon-Skip-Logging: true`.
 */
import { badInput, statusError, unavailable } from '../errors.js';
import { fetchJson } from '../http-json.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime } from '../runtime.js';
import { asFloat64, type Tensor } from '../tensor.js';

export const REMOTE_PROTOCOLS = ['seldon.http', 'tensorflow.http', 'kfserving.http', 'v2.http', 'v2'] as const;
export type RemoteProtocol = (typeof REMOTE_PROTOCOLS)[number];

function flat(v: unknown, out: number[], shape: number[], depth: number): void {
  if (Array.isArray(v)) {
    if (shape.length <= depth) shape.push(v.length);
    for (const x of v) flat(x, out, shape, depth + 1);
  } else if (typeof v === 'number' || v === null) out.push(v ?? NaN);
  else if (typeof v === 'boolean') out.push(v ? 1 : 0);
  else throw badInput(`the predictor returned a non-numeric value (${JSON.stringify(v)})`);
}

function fromNested(v: unknown, what: string): Tensor {
  if (!Array.isArray(v)) throw badInput(`the predictor's answer has no ${what} list`);
  const data: number[] = [];
  const shape: number[] = [];
  flat(v, data, shape, 0);
  return { name: 'output', datatype: 'FP64', shape, data: Float64Array.from(data) };
}

export class RemoteRuntime implements ModelRuntime {
  private readonly url: string;

  constructor(
    private readonly name: string,
    host: string,
    private readonly protocol: RemoteProtocol,
    private readonly timeoutMs = 60_000,
  ) {
    const base = /^https?:\/\//.test(host) ? host.replace(/\/$/, '') : `http://${host}`;
    this.url =
      protocol === 'seldon.http'
        ? `${base}/api/v0.1/predictions`
        : protocol === 'tensorflow.http' || protocol === 'kfserving.http'
          ? `${base}/v1/models/${encodeURIComponent(name)}:predict`
          : `${base}/v2/models/${encodeURIComponent(name)}/infer`;
  }

  async load(): Promise<void> {}
  async unload(): Promise<void> {}

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const input = request.inputs[0];
    if (!input) throw badInput('the request holds no input tensor');
    const X = asFloat64(input);
    const [n, m] = input.shape.length === 2 ? input.shape : [1, input.shape[0]];
    const rows = Array.from({ length: n }, (_, r) => Array.from(X.subarray(r * m, (r + 1) * m)));
    const body =
      this.protocol === 'seldon.http'
        ? { data: { ndarray: rows } }
        : this.protocol === 'tensorflow.http' || this.protocol === 'kfserving.http'
          ? { instances: rows }
          : { inputs: [{ name: 'predict', datatype: 'FP64', shape: [n, m], data: Array.from(X) }] };
    const res = await this.post(body);
    return { outputs: [this.decode(res)] };
  }

  private async post(body: unknown): Promise<unknown> {
    // Seldon's explainer marks its calls so request loggers leave the perturbed rows out.
    const headers = { 'Seldon-Skip-Logging': 'true' };
    const r = await fetchJson(this.url, { body, timeoutMs: this.timeoutMs, headers }, (cause) => unavailable(`predictor ${this.url} unreachable: ${cause}`));
    if (!r.ok) throw statusError(r.status, `predictor ${this.url} answered ${r.status}: ${r.text.slice(0, 500)}`);
    if (r.json === undefined) throw unavailable(`predictor ${this.url} answered non-JSON: ${r.text.slice(0, 200)}`);
    return r.json;
  }

  private decode(res: unknown): Tensor {
    const j = res as Record<string, any>;
    if (this.protocol === 'seldon.http') {
      const d = j.data ?? {};
      if (d.tensor) return { name: 'output', datatype: 'FP64', shape: d.tensor.shape, data: Float64Array.from(d.tensor.values as number[]) };
      return fromNested(d.ndarray, 'data.ndarray');
    }
    if (this.protocol === 'tensorflow.http' || this.protocol === 'kfserving.http') return fromNested(j.predictions, 'predictions');
    const o = j.outputs?.[0];
    if (!o || !Array.isArray(o.data)) throw badInput('the predictor answered no V2 outputs');
    return { name: 'output', datatype: 'FP64', shape: o.shape, data: Float64Array.from(o.data as number[]) };
  }

  metadata(): ModelMetadata {
    return { name: this.name, platform: `remote:${this.protocol}`, inputs: [], outputs: [], parameters: { predictor: this.url } };
  }

  defaultOutputs(): string[] {
    return ['output'];
  }
}
