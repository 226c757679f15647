/**
 * gRPC on the same DataPlane and handlers as REST: Seldon's services (Model, Generic, Transformer,
 * OutputTransformer, Router, Combiner, Seldon), the V2 GRPCInferenceService, the standard health service and
 * server reflection (so grpcurl-style tools work without .proto files).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { seldonFromProto, seldonFromWire, seldonToProto, seldonToWire } from '../codecs/seldon-proto.js';
import { jsonToValue } from '../codecs/protobuf-struct.js';
import { decodeV2Proto, encodeV2Proto, metadataToProto, v2RequestFromWire, v2ResponseToWire } from '../codecs/v2-proto.js';
import { seldonAggregate, seldonFeedback, seldonPredict, seldonRoute, seldonTransformInput, seldonTransformOutput } from '../handlers/seldon.js';
import type { ServerContext } from '../context.js';
import { tritonConfig, V2_EXTENSIONS } from '../rest/v2.js';
import { repositoryRpcs } from '../repository/grpc.js';
import { grpcError, toGrpcError } from './status.js';
import { PROTO_OPTIONS } from './protos.js';
import { skipRequested, SKIP_HEADER, withoutLogging } from '../logging/index.js';
import { tracer } from '../tracing/index.js';

// The health service's own .proto, so reflection describes it too.
const HEALTH_PROTO = path.join(path.dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
const SELDON_SERVICES = ['Model', 'Generic', 'Transformer', 'OutputTransformer', 'Router', 'Combiner', 'Seldon'];
type Obj = Record<string, any>;

const MALFORMED = Symbol('malformed');

/** A message type's name as proto-loader describes it. */
const typeName = (t: unknown) => (t as { type?: { name?: string } } | undefined)?.type?.name;

/**
 * The service with our codecs: SeldonMessage travels in proto3-JSON shape (what the handlers take) and V2 inference
 * messages as proto-loader objects, each read and written by a hand-written wire codec when the message is on its
 * fast path (numeric data, no parameters), else by protobufjs. A request that cannot be decoded is handed to the
 * handler as MALFORMED: grpc-js would answer INTERNAL, we answer INVALID_ARGUMENT with the reason.
 */
function withCodecs(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, m]) => {
      const method = m as typeof m & { requestType?: unknown; responseType?: unknown };
      const decode = method.requestDeserialize;
      const encode = method.responseSerialize;
      const read: (buf: Buffer) => unknown =
        typeName(method.requestType) === 'SeldonMessage'
          ? (buf) => seldonFromWire(buf) ?? seldonFromProto(decode(buf) as Obj)
          : typeName(method.requestType) === 'ModelInferRequest'
            ? (buf) => v2RequestFromWire(buf) ?? decode(buf)
            : decode;
      const write: (value: Obj) => Buffer =
        typeName(method.responseType) === 'SeldonMessage'
          ? (j) => seldonToWire(j) ?? encode(seldonToProto(j))
          : typeName(method.responseType) === 'ModelInferResponse'
            ? (m) => v2ResponseToWire(m) ?? encode(m)
            : encode;
      return [
        name,
        {
          ...method,
          requestDeserialize: (buf: Buffer) => {
            try {
              return read(buf);
            } catch (err) {
              return { [MALFORMED]: (err as Error).message };
            }
          },
          responseSerialize: write,
        },
      ];
    }),
  ) as grpc.ServiceDefinition;
}

export interface GrpcServer {
  server: grpc.Server;
  /** Health follows the model's readiness. */
  setServing(serving: boolean): void;
  shutdown(timeoutMs: number): Promise<void>;
}

export function createGrpcServer(ctx: ServerContext, maxMessageBytes: number): GrpcServer {
  const definition = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto', 'model_repository.proto', HEALTH_PROTO], PROTO_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as Obj;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // Channelz (grpc-js's introspection service, which we do not register) costs bookkeeping on every call.
    'grpc.enable_channelz': 0,
  });

  const unary =
    (protocol: string, method: string, fn: (request: Obj) => Obj | Promise<Obj>): grpc.handleUnaryCall<Obj, Obj> => {
      // The method's OK series, resolved once rather than hashing a label object per call.
      const okDuration = ctx.metrics.duration.labels({ protocol, endpoint: method, code: 'OK' });
      const ok = ctx.metrics.requests.labels({ protocol, endpoint: method, code: 'OK' });
      return (call, callback) => {
        const started = performance.now();
        ctx.plane.begin();
        const done = (err: ReturnType<typeof toGrpcError> | null, value?: Obj) => {
          ctx.plane.end();
          const seconds = (performance.now() - started) / 1000;
          if (err) {
            const code = grpc.status[err.code];
            ctx.metrics.duration.observe({ protocol, endpoint: method, code }, seconds);
            ctx.metrics.requests.inc({ protocol, endpoint: method, code });
          } else {
            okDuration.observe(seconds);
            ok.inc();
          }
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
        if (t) {
          t.server(`${protocol} ${method}`, call.metadata.getMap(), { 'rpc.system': 'grpc', 'rpc.method': method, 'modelfleet.protocol': protocol, 'modelfleet.model': ctx.plane.model.name }, async (span) => {
            try {
              return await invoke();
            } catch (err) {
              span.setAttribute('rpc.grpc.status_code', toGrpcError(err).code);
              throw err;
            }
          }).then((value) => done(null, value), (err) => done(toGrpcError(err)));
          return;
        }
        let result: Obj | Promise<Obj>;
        try {
          result = invoke();
        } catch (err) {
          done(toGrpcError(err));
          return;
        }
        // A synchronous answer is sent without a promise hop.
        if (result instanceof Promise) result.then((value) => done(null, value), (err) => done(toGrpcError(err)));
        else done(null, result);
      };
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
    // SeldonMessage requests and answers are in proto3-JSON shape already (withCodecs).
    Predict: (r) => seldonPredict(ctx, r, false),
    SendFeedback: (r) => seldonFeedback(ctx, feedbackFromProto(r)),
    Metadata: () => seldonMetadata(),
    ModelMetadata: () => seldonMetadata(),
    TransformInput: (r) => seldonTransformInput(ctx, r, false),
    TransformOutput: (r) => seldonTransformOutput(ctx, r, false),
    Route: (r) => seldonRoute(ctx, r),
    Aggregate: (r) => seldonAggregate(ctx, { seldonMessages: (r.seldonMessages ?? []).map(seldonFromProto) }),
    GraphMetadata: () => {
      throw grpcError(grpc.status.UNIMPLEMENTED, 'GraphMetadata is served by a graph (modelfleet run), not by a single model');
    },
  };
  for (const name of SELDON_SERVICES) {
    const service = pkg.seldon.protos[name].service as grpc.ServiceDefinition;
    const impl = Object.fromEntries(Object.keys(service).map((m) => [m, unary('seldon-grpc', m, seldon[m])]));
    server.addService(withCodecs(service), impl);
  }

  const v2: Record<string, (r: Obj) => Obj | Promise<Obj>> = {
    ServerLive: () => ({ live: ctx.plane.live }),
    ServerReady: () => ({ ready: ctx.plane.ready }),
    ModelReady: (r) => {
      return { ready: ctx.plane.checkModel(r.name ?? '', r.version || undefined).ready };
    },
    ServerMetadata: () => ({ name: ctx.serverName, version: ctx.serverVersion, extensions: V2_EXTENSIONS }),
    ModelMetadata: (r) => {
      return metadataToProto(ctx.plane.checkModel(r.name ?? '', r.version || undefined).metadata());
    },
    // The same builder as REST's /config; the model's own plane, so a repository server describes the named model.
    ModelConfig: (r) => ({ config: tritonConfig(ctx.plane.checkModel(r.name ?? '', r.version || undefined).metadata()) }),
    ModelInfer: async (r) => {
      const plane = ctx.plane.checkModel(r.model_name ?? '', r.model_version || undefined);
      const { request, raw } = decodeV2Proto(r);
      const response = await plane.infer(request, 'v2');
      return encodeV2Proto(response, request, raw, plane.model);
    },
    ...repositoryRpcs(ctx),
  };
  const v2Service = pkg.inference.GRPCInferenceService.service as grpc.ServiceDefinition;
  const v2Impl: grpc.UntypedServiceImplementation = Object.fromEntries(Object.keys(v2).map((m) => [m, unary('v2-grpc', m, v2[m])]));
  v2Impl.ModelStreamInfer = streamInfer(ctx, v2.ModelInfer);
  server.addService(withCodecs(v2Service), v2Impl);
  const repoService = pkg.inference.model_repository.ModelRepositoryService.service as grpc.ServiceDefinition;
  server.addService(withCodecs(repoService), Object.fromEntries(Object.keys(repoService).map((m) => [m, unary('v2-grpc', m, v2[m])])));

  const serviceNames = ['', ...SELDON_SERVICES.map((s) => `seldon.protos.${s}`), 'inference.GRPCInferenceService'];
  const health = new HealthImplementation(Object.fromEntries(serviceNames.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);
  // Reflection is for tools (grpcurl), not for serving: loaded once the model is ready, off the path to the first
  // answer (grpc-js takes services after bind).
  let reflection: Promise<void> | undefined;
  const addReflection = () =>
    (reflection ??= import('@grpc/reflection').then(
      ({ ReflectionService }) => new ReflectionService(definition).addToServer(server),
      (err) => ctx.log.warn(`gRPC reflection not available: ${(err as Error).message}`),
    ));

  return {
    server,
    setServing: (serving) => {
      for (const s of serviceNames) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
      if (serving) void addReflection();
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

/**
 * Triton's ModelStreamInfer: many ModelInferRequests over one bidirectional stream, so a client pays HTTP/2's
 * per-call cost (headers, trailers, a new stream) once. Each request gets one ModelStreamInferResponse, in the order
 * they complete (clients match them by id, as with Triton); a failed request answers error_message and the stream
 * goes on. The stream ends once the client has ended its side and every answer is written.
 */
function streamInfer(ctx: ServerContext, infer: (r: Obj) => Promise<Obj> | Obj): grpc.handleBidiStreamingCall<Obj, Obj> {
  return (call) => {
    let pending = 0;
    let ended = false;
    const finish = () => {
      if (ended && pending === 0) call.end();
    };
    call.on('data', (r: Obj) => {
      pending++;
      ctx.plane.begin();
      const end = ctx.metrics.duration.startTimer({ protocol: 'v2-grpc', endpoint: 'ModelStreamInfer' });
      const malformed = r?.[MALFORMED as unknown as string];
      Promise.resolve()
        .then(() => {
          if (malformed !== undefined) throw grpcError(grpc.status.INVALID_ARGUMENT, `malformed ModelStreamInfer request: ${malformed}`);
          return infer(r);
        })
        .then(
          (response) => ({ code: 'OK', message: { error_message: '', infer_response: response } }),
          (err) => {
            const e = toGrpcError(err);
            if (e.code === grpc.status.INTERNAL) ctx.log.error(`v2-grpc ModelStreamInfer failed: ${e.details}`);
            return { code: grpc.status[e.code], message: { error_message: e.details ?? grpc.status[e.code] } };
          },
        )
        .then(({ code, message }) => {
          ctx.plane.end();
          end();
          ctx.metrics.requests.inc({ protocol: 'v2-grpc', endpoint: 'ModelStreamInfer', code });
          pending--;
          if (!call.cancelled) call.write(message);
          finish();
        });
    });
    call.on('end', () => {
      ended = true;
      finish();
    });
    // A cancelled stream: answers still pending are dropped when they complete (call.cancelled).
    call.on('error', () => {});
  };
}
