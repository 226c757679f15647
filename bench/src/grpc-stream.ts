import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './wrk.js';

const PROTO_DIR = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
const pkg = grpc.loadPackageDefinition(
  protoLoader.loadSync(['grpc_service.proto'], { keepCase: true, longs: String, enums: String, oneofs: true, includeDirs: [PROTO_DIR] }),
) as any;

export interface StreamLoadSpec {
  target: string;
  request: Record<string, unknown>;
  /** Requests kept in flight: unary calls at once, or requests written ahead on the one stream. */
  inFlight: number;
  seconds: number;
  mode: 'unary' | 'stream';
}

/**
 * V2 ModelInfer driven by a grpc-js client, either as unary calls or over one ModelStreamInfer stream, with the same
 * number in flight: the one client (and its own cost) is the same for both, so their ratio is the stream's gain.
 * h2load cannot drive a bidirectional stream, hence this client.
 */
export async function grpcClientLoad(spec: StreamLoadSpec): Promise<LoadResult> {
  const client = new pkg.inference.GRPCInferenceService(spec.target, grpc.credentials.createInsecure());
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + spec.seconds * 1000;
  try {
    if (spec.mode === 'unary') {
      const one = (): Promise<void> =>
        new Promise((resolve) => {
          const t0 = performance.now();
          client.ModelInfer(spec.request, (err: Error | null) => {
            if (err) errors++;
            else latencies.push(performance.now() - t0);
            resolve();
          });
        });
      await Promise.all(Array.from({ length: spec.inFlight }, async () => {
        while (performance.now() < deadline) await one();
      }));
    } else {
      await new Promise<void>((resolve, reject) => {
        const call = client.ModelStreamInfer();
        const sent: number[] = [];
        const send = () => {
          sent.push(performance.now());
          call.write(spec.request);
        };
        call.on('data', (m: { error_message?: string }) => {
          const t0 = sent.shift()!; // answers come in order here: one model, requests run inline
          if (m.error_message) errors++;
          else latencies.push(performance.now() - t0);
          if (performance.now() < deadline) send();
          else if (sent.length === 0) call.end();
        });
        call.on('end', resolve);
        call.on('error', reject);
        for (let i = 0; i < spec.inFlight; i++) send();
      });
    }
  } finally {
    client.close();
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { rps: latencies.length / spec.seconds, p50: pct(50), p99: pct(99), errors };
}
