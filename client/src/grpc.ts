/**
 * gRPC transport: stubs from the servers' own .proto files (shared/proto, loaded with the servers' options), TLS
 * or plaintext channel, bearer token and ingress metadata, a deadline per call, retries on UNAVAILABLE.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '@modelfleet/shared/grpc/protos';
import { ClientError } from './errors.js';
import { backoff, type ResolvedOptions } from './options.js';

type Obj = Record<string, any>;
type Stub = grpc.Client & Record<string, Function>;

let packages: Obj | undefined;
/** The servers' own .proto files (PROTO_OPTIONS points at shared/proto), loaded once per process. */
function protoPackages(): Obj {
  packages ??= grpc.loadPackageDefinition(protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], PROTO_OPTIONS)) as Obj;
  return packages;
}

export class GrpcTransport {
  private readonly stubs = new Map<string, Stub>();
  private readonly credentials: grpc.ChannelCredentials;
  private readonly channelOptions: grpc.ChannelOptions;

  constructor(private readonly o: ResolvedOptions) {
    if (!o.grpc) throw new TypeError('this call needs a grpc target (host:port)');
    this.credentials = o.grpcTls
      ? grpc.credentials.createSsl(o.tls?.ca ?? null, o.tls?.key ?? null, o.tls?.cert ?? null, {
          rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
        } as grpc.VerifyOptions)
      : grpc.credentials.createInsecure();
    this.channelOptions = {
      'grpc.max_receive_message_length': o.maxMessageBytes,
      'grpc.max_send_message_length': o.maxMessageBytes,
      // Keep-alive pings hold an idle channel open through proxies; off when the caller asked for no keep-alive.
      ...(o.keepAlive ? { 'grpc.keepalive_time_ms': 30_000 } : {}),
      ...(o.tls?.servername ? { 'grpc.ssl_target_name_override': o.tls.servername } : {}),
    };
  }

  /** service: "seldon.protos.Seldon", "inference.GRPCInferenceService", ... */
  private stub(service: string): Stub {
    let s = this.stubs.get(service);
    if (!s) {
      const Ctor = service.split('.').reduce((p: Obj, k) => p?.[k], protoPackages()) as (typeof grpc.Client) | undefined;
      if (!Ctor) throw new TypeError(`no gRPC service ${service} in the .proto files`);
      s = new Ctor(this.o.grpc!, this.credentials, this.channelOptions) as Stub;
      this.stubs.set(service, s);
    }
    return s;
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.o.headers)) md.set(k.toLowerCase(), v);
    if (this.o.token) md.set('authorization', `Bearer ${this.o.token}`);
    if (this.o.ingress) {
      md.set('seldon', this.o.ingress.deployment);
      md.set('namespace', this.o.ingress.namespace);
    }
    return md;
  }

  async call(service: string, method: string, request: Obj): Promise<Obj> {
    const stub = this.stub(service);
    if (typeof stub[method] !== 'function') throw new TypeError(`gRPC service ${service} has no method ${method}`);
    const target = `gRPC ${this.o.grpc} ${service}/${method}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<Obj>((resolve, reject) => {
          stub[method](request, this.metadata(), { deadline: Date.now() + this.o.timeoutMs }, (err: grpc.ServiceError | null, res: Obj) =>
            err ? reject(err) : resolve(res),
          );
        });
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (e.code === grpc.status.UNAVAILABLE && attempt < this.o.retries) {
          await backoff(this.o.backoffMs, attempt);
          continue;
        }
        const code = grpc.status[e.code] ?? String(e.code);
        throw new ClientError(`${target} failed with ${code}: ${e.details || e.message}`, { grpcCode: code, body: e.details, target, cause: err });
      }
    }
  }

  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }
}
