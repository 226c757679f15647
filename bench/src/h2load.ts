import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { LoadResult } from './wrk.js';

const PROTO_DIR = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
const definition = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], { keepCase: true, longs: String, enums: String, oneofs: true, includeDirs: [PROTO_DIR] });

export interface GrpcLoadSpec {
  target: string;
  /** e.g. seldon.protos.Model/Predict or inference.GRPCInferenceService/ModelInfer */
  method: string;
  request: Record<string, unknown>;
  concurrency: number;
  seconds: number;
  /** Streams per connection (4 unless given): concurrency / streams connections. */
  streams?: number;
}

/** One unary call checked with a real client first: h2load only sees HTTP 200, and gRPC errors ride in trailers. */
async function checkCall(spec: GrpcLoadSpec): Promise<void> {
  const [service, method] = spec.method.split('/');
  const Ctor = service.split('.').reduce((o: any, k) => o[k], grpc.loadPackageDefinition(definition)) as grpc.ServiceClientConstructor;
  const client = new Ctor(spec.target, grpc.credentials.createInsecure()) as any;
  try {
    await new Promise<void>((resolve, reject) => client[method](spec.request, (err: Error | null) => (err ? reject(err) : resolve())));
  } finally {
    client.close();
  }
}

/**
 * gRPC load with h2load (nghttp2, C): the request is serialised once into a gRPC frame (flag byte, big-endian length,
 * protobuf) and sent on 4 connections x 4 streams = 16 in flight, like wrk's 16 connections for REST.
 */
export async function h2load(spec: GrpcLoadSpec, workDir: string): Promise<LoadResult> {
  await checkCall(spec);
  const [service, method] = spec.method.split('/');
  const svc = service.split('.').reduce((o: any, k) => o[k], grpc.loadPackageDefinition(definition)).service as grpc.ServiceDefinition;
  const message = svc[method].requestSerialize(spec.request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const stamp = process.hrtime.bigint();
  const body = path.join(workDir, `grpc-${stamp}.bin`);
  const log = path.join(workDir, `h2load-${stamp}.log`);
  writeFileSync(body, frame);
  const streams = spec.streams ?? 4;
  const clients = spec.concurrency / streams;
  await promisify(execFile)(
    'h2load',
    ['-c', String(clients), '-m', String(streams), '-t', String(Math.min(2, clients)), '-D', String(spec.seconds), '-d', body,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--log-file', log, `http://${spec.target}/${spec.method}`],
    { maxBuffer: 16 << 20 },
  );
  // Log lines: start time (us), HTTP status, elapsed (us).
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number));
  const ok = lines.filter((l) => l[1] === 200).map((l) => l[2] / 1000).sort((a, b) => a - b);
  const pct = (p: number) => ok[Math.min(ok.length - 1, Math.floor((p / 100) * ok.length))] ?? NaN;
  return { rps: ok.length / spec.seconds, p50: pct(50), p99: pct(99), errors: lines.length - ok.length };
}
