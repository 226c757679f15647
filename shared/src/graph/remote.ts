/**
 * Graph nodes reached over the network (a node's `endpoint`), as Seldon's executor calls them: REST posts the
 * message to /predict, /transform-input, /transform-output, /route, /aggregate (a JSON list), /send-feedback; gRPC
 * calls the Model, Transformer, OutputTransformer, Router and Combiner services. A node's error comes back with its
 * status and body unchanged; a node that cannot be reached is a 503 naming it.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { seldonFromProto, seldonToProto } from '../codecs/seldon-proto.js';
import { PROTO_OPTIONS } from '../grpc/protos.js';
import { statusError, unavailable } from '../errors.js';
import { fetchJson } from '../http-json.js';
import type { SeldonComponent, SeldonFeedback, SeldonMessage } from '../seldon/component.js';
import { tracer } from '../tracing/index.js';

type Obj = Record<string, any>;

export class RestNode implements SeldonComponent {
  private readonly base: string;

  constructor(
    private readonly name: string,
    host: string,
    port: number,
    private readonly timeoutMs?: number,
  ) {
    this.base = `http://${host}:${port}`;
  }

  private call(path: string, body?: unknown): Promise<SeldonMessage> {
    const t = tracer();
    if (!t) return this.post(path, body);
    // Seldon's executor names client spans by the called path.
    const attributes = { 'seldon.node': this.name, 'http.request.method': 'POST', 'url.full': this.base + path };
    return t.client(path, attributes, (inject) => {
      const headers: Record<string, string> = {};
      inject(headers);
      return this.post(path, body, headers);
    });
  }

  private async post(path: string, body?: unknown, headers?: Record<string, string>): Promise<SeldonMessage> {
    const res = await fetchJson(this.base + path, { body, timeoutMs: this.timeoutMs, headers }, (cause) =>
      unavailable(`graph node "${this.name}" at ${this.base}${path} is unreachable: ${cause}`),
    );
    const { json, text } = res;
    if (!res.ok) {
      const status = (json as { status?: { info?: string; reason?: string } } | undefined)?.status;
      throw statusError(res.status, status?.info ?? `graph node "${this.name}" answered ${res.status}: ${text.slice(0, 200)}`, status?.reason, json);
    }
    if (!json || typeof json !== 'object') throw statusError(502, `graph node "${this.name}" answered ${path} with something that is not a JSON message`);
    return json as SeldonMessage;
  }

  predict(m: SeldonMessage) {
    return this.call('/predict', m);
  }
  transformInput(m: SeldonMessage) {
    return this.call('/transform-input', m);
  }
  transformOutput(m: SeldonMessage) {
    return this.call('/transform-output', m);
  }
  route(m: SeldonMessage) {
    return this.call('/route', m);
  }
  aggregate(ms: SeldonMessage[]) {
    return this.call('/aggregate', ms);
  }
  sendFeedback(f: SeldonFeedback) {
    return this.call('/send-feedback', f);
  }
  healthStatus() {
    return this.call('/health/status');
  }
}

let seldonPackage: Obj | undefined;
function seldonProtos(): Obj {
  seldonPackage ??= (
    grpc.loadPackageDefinition(
      protoLoader.loadSync('prediction.proto', PROTO_OPTIONS),
    ) as Obj
  ).seldon.protos;
  return seldonPackage!;
}

/** gRPC status -> the HTTP status the error is answered with. */
const HTTP_OF: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.UNIMPLEMENTED]: 501,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.RESOURCE_EXHAUSTED]: 413,
  [grpc.status.DEADLINE_EXCEEDED]: 504,
};

export class GrpcNode implements SeldonComponent {
  private readonly clients: Record<string, grpc.Client> = {};

  constructor(
    private readonly name: string,
    private readonly target: string,
    private readonly timeoutMs?: number,
  ) {}

  private client(service: string): Obj {
    this.clients[service] ??= new (seldonProtos()[service] as typeof grpc.Client)(this.target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    return this.clients[service] as unknown as Obj;
  }

  private call(service: string, method: string, request: Obj): Promise<Obj> {
    const t = tracer();
    if (!t) return this.invoke(service, method, request, new grpc.Metadata());
    const attributes = { 'seldon.node': this.name, 'rpc.system': 'grpc', 'rpc.service': `seldon.protos.${service}`, 'rpc.method': method };
    return t.client(`/seldon.protos.${service}/${method}`, attributes, (inject) => {
      const headers: Record<string, string> = {};
      inject(headers);
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
      return this.invoke(service, method, request, metadata);
    });
  }

  private invoke(service: string, method: string, request: Obj, metadata: grpc.Metadata): Promise<Obj> {
    return new Promise((resolve, reject) => {
      const options = this.timeoutMs ? { deadline: Date.now() + this.timeoutMs } : {};
      this.client(service)[method](request, metadata, options, (err: grpc.ServiceError | null, res: Obj) => {
        if (!err) return resolve(res);
        if (err.code === grpc.status.UNAVAILABLE) reject(unavailable(`graph node "${this.name}" at ${this.target} is unreachable: ${err.details}`));
        else reject(statusError(HTTP_OF[err.code] ?? 500, err.details || `graph node "${this.name}": ${grpc.status[err.code]}`));
      });
    });
  }

  private async message(service: string, method: string, m: SeldonMessage): Promise<SeldonMessage> {
    return seldonFromProto(await this.call(service, method, seldonToProto(m)));
  }

  predict(m: SeldonMessage) {
    return this.message('Model', 'Predict', m);
  }
  transformInput(m: SeldonMessage) {
    return this.message('Transformer', 'TransformInput', m);
  }
  transformOutput(m: SeldonMessage) {
    return this.message('OutputTransformer', 'TransformOutput', m);
  }
  route(m: SeldonMessage) {
    return this.message('Router', 'Route', m);
  }
  async aggregate(ms: SeldonMessage[]) {
    return seldonFromProto(await this.call('Combiner', 'Aggregate', { seldonMessages: ms.map(seldonToProto) }));
  }
  async sendFeedback(f: SeldonFeedback) {
    const proto: Obj = { reward: f.reward ?? 0 };
    for (const k of ['request', 'response', 'truth'] as const) if (f[k]) proto[k] = seldonToProto(f[k]!);
    return seldonFromProto(await this.call('Model', 'SendFeedback', proto));
  }
  async healthStatus(): Promise<SeldonMessage> {
    return { strData: 'healthy', meta: {} };
  }

  close(): void {
    for (const c of Object.values(this.clients)) c.close();
  }
}
