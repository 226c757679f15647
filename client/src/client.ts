/** The one entry point: a client for a server (or a graph, or an ingress path) speaking all three protocols. */
import { GrpcTransport } from './grpc.js';
import { HttpTransport } from './http.js';
import { KServeV1Client } from './kserve.js';
import { resolveOptions, type ClientOptions } from './options.js';
import { SeldonClient } from './seldon.js';
import { V2Client } from './v2.js';

export interface ModelClientOptions extends ClientOptions {
  /** Which transport Seldon and V2 calls use: default rest when `url` is set, else grpc. */
  transport?: 'rest' | 'grpc';
}

export class ModelClient {
  readonly seldon: SeldonClient;
  readonly v2: V2Client;
  readonly kserve: KServeV1Client;
  readonly transport: 'rest' | 'grpc';
  private readonly http?: HttpTransport;
  private readonly grpc?: GrpcTransport;

  constructor(options: ModelClientOptions) {
    const o = resolveOptions(options);
    this.transport = options.transport ?? (o.url ? 'rest' : 'grpc');
    if (this.transport === 'grpc' && !o.grpc) throw new TypeError('transport grpc needs a grpc target (host:port)');
    if (this.transport === 'rest' && !o.url) throw new TypeError('transport rest needs a url');
    if (o.url) this.http = new HttpTransport(o);
    if (this.transport === 'grpc') this.grpc = new GrpcTransport(o);
    this.seldon = new SeldonClient(this.http, this.grpc);
    this.v2 = new V2Client(this.http, this.grpc);
    this.kserve = new KServeV1Client(this.http);
  }

  /** Closes pooled connections and channels (a process with open keep-alive sockets would not exit). */
  close(): void {
    this.http?.close();
    this.grpc?.close();
  }
}
