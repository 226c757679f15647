/**
 * node bench/dist/cpu-per-request.js: server CPU time per gRPC request (utime + stime of the server process over a
 * fixed number of h2load requests), bare grpc-js against SKLEARN_SERVER's native engine, 1 row. CPU per request,
 * unlike req/s, holds up on a loaded machine, so it is the figure to compare changes to the gRPC path with.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startProcess } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROTO_DIR = path.join(ROOT, 'shared/proto/');
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], { keepCase: true, longs: String, enums: String, oneofs: true, includeDirs: [PROTO_DIR] })) as any;
const N = Number(process.argv[2] ?? 20000);
const row = [5.1, 3.5, 1.4, 0.2];
const calls = {
  'seldon.protos.Model/Predict': pkg.seldon.protos.Model.service.Predict.requestSerialize({ data: { ndarray: { values: [{ listValue: { values: row.map((v) => ({ numberValue: v })) } }] } } }),
  'inference.GRPCInferenceService/ModelInfer': pkg.inference.GRPCInferenceService.service.ModelInfer.requestSerialize({
    model_name: 'iris', inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: row } }], outputs: [{ name: 'predict_proba' }],
  }),
} as Record<string, Buffer>;

const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
};

async function measure(args: string[], method: string, work: string): Promise<number> {
  const proc = await startProcess(args, { MODELFLEET_CACHE_DIR: path.join(work, 'cache') });
  try {
    const msg = calls[method];
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    const body = path.join(work, 'frame.bin');
    writeFileSync(body, frame);
    const h2 = (n: number) =>
      promisify(execFile)('h2load', ['-c', '4', '-m', '4', '-t', '1', '-n', String(n), '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${proc.grpcTarget}/${method}`]);
    await new Promise((r) => setTimeout(r, 1500)); // model load
    await h2(N / 4);
    const before = cpuMs(proc.child.pid!);
    await h2(N);
    return ((cpuMs(proc.child.pid!) - before) * 1000) / N;
  } finally {
    await proc.stop();
  }
}

const work = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-cpu-'));
const bare = [path.join(ROOT, 'bench/dist/bare-grpc-server.js')];
const mf = [path.join(ROOT, 'shared/dist/cli.js'), 'serve', 'SKLEARN_SERVER', '--model-uri', path.join(ROOT, 'bench/.cache/iris'), '--model-name', 'iris', '--param', 'engine=native'];
for (const method of Object.keys(calls)) {
  const b = await measure(bare, method, work);
  const m = await measure(mf, method, work);
  process.stdout.write(`${method.padEnd(44)} bare grpc-js ${b.toFixed(1)} us/req, modelfleet ${m.toFixed(1)} us/req: ${(b / m).toFixed(2)}x of the limit (${os.loadavg()[0].toFixed(0)} load)\n`);
}
