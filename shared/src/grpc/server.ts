/**
 * gRPC on the same DataPlane and handlers as REST: Seldon's services (Model, Generic, Transformer,
 * OutputTransformer, Router, Combiner, Seldon), the V2 GRPCInferenceService, the standard health service and
 * server reflection (so grpcurl-style tools work without .proto files).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { seldonFromProto, seldonToProto } from '../codecs/seldon-proto.js';
import { jsonToValue } from '../codecs/protobuf-struct.js';
import { decodeV2Proto, encodeV2Proto, metadataToProto } from '../codecs/v2-proto.js';
import { seldonAggregate, seldonFeedback, seldonPredict, seldonRoute, seldonTransformInput, seldonTransformOutput } from '../handlers/seldon.js';
import type { ServerContext } from '../context.js';
import { V2_EXTENSIONS } from '../rest/v2.js';
import { grpcError, toGrpcError } from './status.js';
import { PROTO_OPTIONS } from './protos.js';
import { skipRequested, SKIP_HEADER, withoutLogging } from '../logging/index.js';
import { tracer } from '../tracing/index.js';

// The health service's own .proto, so reflection describes it too.
const HEALTH_PROTO = path.join(path.dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
const SELDON_SERVICES = ['Model', 'Generic', 'Transformer', 'OutputTransformer', 'Router', 'Combiner', 'Seldon'];
type Obj = Record<string, any>;

const MALFORMED = Symbol('malformed');

/** grpc-js answers INTERNAL when a request cannot be decoded; we want INVALID_ARGUMENT with the reason. */
function tolerant(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (buf: Buffer) => {
          try {
            return method.requestDeserialize(buf);
          } catch (err) {
            return { [MALFORMED]: (err as Error).message };
          }
        },
      },
    ]),
  ) as grpc.ServiceDefinition;
}

export interface GrpcServer {
  server: grpc.Server;
  bind(host: string, port: number): Promise<number>;
  /** Health follows the model's readiness. */
  setServing(serving: boolean): void;
  shutdown(timeoutMs: number): Promise<void>;
}

export function createGrpcServer(ctx: ServerContext, maxMessageBytes: number): GrpcServer {
  const definition = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto', HEALTH_PROTO], PROTO_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as Obj;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  });

  const unary =
    (protocol: string, method: string, fn: (request: Obj) => Obj | Promise<Obj>): grpc.handleUnaryCall<Obj, Obj> =>
    (call, callback) => {
      const end = ctx.metrics.duration.startTimer({ protocol, endpoint: method });
      ctx.plane.begin();
      const done = (err: ReturnType<typeof toGrpcError> | null, value?: Obj) => {
        ctx.plane.end();
        const code = err ? grpc.status[err.code] : 'OK';
        end({ code });
        ctx.metrics.requests.inc({ protocol, endpoint: method, code });
        if (err && err.code === grpc.status.INTERNAL) ctx.log.error(`${protocol} ${method} failed: ${err.details}`);
        callback(err, value);
      };
      const malformed = (call.request as Obj | undefined)?.[MALFORMED as unknown as string];
      if (malformed !== undefined) {
        done(grpcError(grpc.status.INVALID_ARGUMENT, `malformed ${method} request: ${malformed}`));
        return;
      }
      const skip = skipRequested(call.metadata.get(SKIP_HEADER).map(String));
      const invoke = () => (skip ? withoutLogging(() => fn(call.request)) : fn(call.request));
      const t = tracer();
      const work = t
        ? t.server(`${protocol} ${method}`, call.metadata.getMap(), { 'rpc.system': 'grpc', 'rpc.method': method, 'modelfleet.protocol': protocol, 'modelfleet.model': ctx.plane.model.name }, async (span) => {
            try {
              return await invoke();
            } catch (err) {
              span.setAttribute('rpc.grpc.status_code', toGrpcError(err).code);
              throw err;
            }
          })
        : Promise.resolve().then(invoke);
      work.then(
        (value) => done(null, value),
        (err) => done(toGrpcError(err)),
      );
    };

  // Seldon: one implementation serves every service that has the method.
  const seldonMetadata = async (): Promise<Obj> => {
    const md = (await ctx.seldonMetadata()) as Obj;
    const tensor = (t: Obj) => ({
      ...t,
      ...(t.schema !== undefined ? { schema: jsonToValue(t.schema) } : {}),
      ...(t.shape ? { shape: (t.shape as number[]).map(String) } : {}),
    });
    return {
      name: md.name,
      versions: md.versions ?? [],
      platform: md.platform ?? '',
      inputs: (md.inputs ?? []).map(tensor),
      outputs: (md.outputs ?? []).map(tensor),
      custom: md.custom ?? {},
    };
  };
  const feedbackFromProto = (f: Obj) => ({
    ...(f.request ? { request: seldonFromProto(f.request) } : {}),
    ...(f.response ? { response: seldonFromProto(f.response) } : {}),
    ...(f.truth ? { truth: seldonFromProto(f.truth) } : {}),
    reward: f.reward ?? 0,
  });
  const seldon: Record<string, (r: Obj) => Obj | Promise<Obj>> = {
    Predict: async (r) => seldonToProto(await seldonPredict(ctx, seldonFromProto(r), false)),
    SendFeedback: async (r) => seldonToProto(await seldonFeedback(ctx, feedbackFromProto(r))),
    Metadata: () => seldonMetadata(),
    ModelMetadata: () => seldonMetadata(),
    TransformInput: async (r) => seldonToProto(await seldonTransformInput(ctx, seldonFromProto(r), false)),
    TransformOutput: async (r) => seldonToProto(await seldonTransformOutput(ctx, seldonFromProto(r), false)),
    Route: async (r) => seldonToProto(await seldonRoute(ctx, seldonFromProto(r))),
    Aggregate: async (r) => seldonToProto(await seldonAggregate(ctx, { seldonMessages: (r.seldonMessages ?? []).map(seldonFromProto) })),
    GraphMetadata: () => {
      throw grpcError(grpc.status.UNIMPLEMENTED, 'GraphMetadata is served by a graph (modelfleet run), not by a single model');
    },
  };
  for (const name of SELDON_SERVICES) {
    const service = pkg.seldon.protos[name].service as grpc.ServiceDefinition;
    const impl = Object.fromEntries(Object.keys(service).map((m) => [m, unary('seldon-grpc', m, seldon[m])]));
    server.addService(tolerant(service), impl);
  }

  const v2: Record<string, (r: Obj) => Obj | Promise<Obj>> = {
    ServerLive: () => ({ live: ctx.plane.live }),
    ServerReady: () => ({ ready: ctx.plane.ready }),
    ModelReady: (r) => {
      ctx.plane.checkModel(r.name ?? '', r.version || undefined);
      return { ready: ctx.plane.ready };
    },
    ServerMetadata: () => ({ name: ctx.serverName, version: ctx.serverVersion, extensions: V2_EXTENSIONS }),
    ModelMetadata: (r) => {
      ctx.plane.checkModel(r.name ?? '', r.version || undefined);
      return metadataToProto(ctx.plane.metadata());
    },
    ModelInfer: async (r) => {
      ctx.plane.checkModel(r.model_name ?? '', r.model_version || undefined);
      const { request, raw } = decodeV2Proto(r);
      const response = await ctx.plane.infer(request, 'v2');
      return encodeV2Proto(response, request, raw, ctx.plane.model);
    },
  };
  const v2Service = pkg.inference.GRPCInferenceService.service as grpc.ServiceDefinition;
  server.addService(tolerant(v2Service), Object.fromEntries(Object.keys(v2Service).map((m) => [m, unary('v2-grpc', m, v2[m])])));

  const serviceNames = ['', ...SELDON_SERVICES.map((s) => `seldon.protos.${s}`), 'inference.GRPCInferenceService'];
  const health = new HealthImplementation(Object.fromEntries(serviceNames.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);

  return {
    server,
    bind: (host, port) =>
      new Promise((resolve, reject) =>
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
      ),
    setServing: (serving) => {
      for (const s of serviceNames) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
    },
    shutdown: (timeoutMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
