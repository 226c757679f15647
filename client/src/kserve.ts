/** KServe V1 client (REST only: V1 has no gRPC API): `:predict` and `:explain` with instances or inputs, readiness. */
import { ClientError } from './errors.js';
import { parseJsonReply, type HttpTransport } from './http.js';

/** A V1 body: `instances` (rows) or `inputs`, as KServe accepts either. */
export type V1Request = { instances: unknown[] } | { inputs: unknown[] } | Record<string, unknown>;

export class KServeV1Client {
  constructor(private readonly http: HttpTransport | undefined) {}

  private transport(): HttpTransport {
    if (!this.http) throw new ClientError('KServe V1 is a REST protocol: give the client a url');
    return this.http;
  }

  private async post(path: string, body: V1Request): Promise<any> {
    const http = this.transport();
    return parseJsonReply(`POST ${http.url(path)}`, await http.call({ method: 'POST', path, body: JSON.stringify(body) }));
  }

  predict(model: string, body: V1Request): Promise<{ predictions: unknown[] } & Record<string, unknown>> {
    return this.post(`/v1/models/${encodeURIComponent(model)}:predict`, body);
  }

  explain(model: string, body: V1Request): Promise<Record<string, unknown>> {
    return this.post(`/v1/models/${encodeURIComponent(model)}:explain`, body);
  }

  async ready(model: string): Promise<boolean> {
    const http = this.transport();
    const r = await http.call({ method: 'GET', path: `/v1/models/${encodeURIComponent(model)}`, accept: [503] });
    return r.status === 200;
  }

  async models(): Promise<string[]> {
    const http = this.transport();
    return (parseJsonReply(`GET ${http.url('/v1/models')}`, await http.call({ method: 'GET', path: '/v1/models' })) as { models: string[] }).models;
  }
}
