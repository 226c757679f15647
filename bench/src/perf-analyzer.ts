/**
 * NVIDIA perf_analyzer (built from bench/vendor/perf_analyzer by bench/scripts/build-perf-analyzer.sh) against
 * SKLEARN_SERVER (native iris), V2 over HTTP and gRPC, concurrency 1–4, 1 row per request. perf_analyzer only speaks
 * Triton's protocol, so it cannot load the bare Node / grpc-js servers: its figures are absolute. Beside each, the
 * bench's own load tool (wrk / h2load) sends the same request at the same concurrency to our server and to the bare
 * server, in the same run, for the usual "× bare" ratio. Returns markdown lines for the report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { h2load } from './h2load.js';
import { CLI, ROOT } from './models.js';
import { firstOk, startProcess, type Proc } from './processes.js';
import { wrk, type LoadResult } from './wrk.js';

const run = promisify(execFile);
const irisRow = [5.1, 3.5, 1.4, 0.2];
const OUTPUTS = ['predict', 'predict_proba', 'decision_function'];

/** The binary, or why there is none (the build needs Debian's dev packages and a few CPU-minutes the first time). */
async function binary(): Promise<{ bin?: string; why?: string }> {
  try {
    const { stdout } = await run(path.join(ROOT, 'bench/scripts/build-perf-analyzer.sh'), [], { timeout: 60 * 60_000, maxBuffer: 16 << 20 });
    return { bin: stdout.trim().split('\n').pop() };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { why: (err.stderr || err.message).trim().split('\n').slice(-3).join(' ') };
  }
}

interface PaRow {
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
}

/** perf_analyzer's CSV (-f): Concurrency, Inferences/Second, …, p50 latency, …, p99 latency (usec), sorted by throughput. */
function parseCsv(file: string): PaRow[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  const at = (name: string) => cols.indexOf(name);
  return lines.map((l) => {
    const v = l.split(',').map(Number);
    return { concurrency: v[at('Concurrency')], rps: v[at('Inferences/Second')], p50: v[at('p50 latency')] / 1000, p99: v[at('p99 latency')] / 1000 };
  }).sort((a, b) => a.concurrency - b.concurrency);
}

/** What perf_analyzer's HTTP client sends for one row: a binary tensor, every output asked for in binary. */
function v2BinaryRow(): { body: Buffer; headers: Record<string, string> } {
  const raw = Buffer.from(new Float64Array(irisRow).buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], parameters: { binary_data_size: raw.length } }],
      outputs: OUTPUTS.map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  return { body: Buffer.concat([header, raw]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

export async function benchPerfAnalyzer(irisModel: string, quick: boolean, work: string): Promise<string[]> {
  const { bin, why } = await binary();
  if (!bin) {
    const line = `perf_analyzer: skipped, could not build it (${why})`;
    process.stderr.write(`${line}\n`);
    return [line];
  }
  const dir = mkdtempSync(path.join(work, 'perf-analyzer-'));
  const inputData = path.join(dir, 'iris.json');
  // perf_analyzer reads FP64 data only from JSON numbers written as doubles (5.0, not 5).
  writeFileSync(inputData, `{"data":[{"input-0":[${irisRow.map((v) => (Number.isInteger(v) ? v.toFixed(1) : String(v))).join(',')}]}]}`);
  const windowMs = quick ? 1000 : 5000;
  const seconds = quick ? 2 : 10;
  const ours = await startProcess([CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', irisModel, '--model-name', 'iris', '--param', 'engine=native']);
  const bareHttp = await startProcess([path.join(ROOT, 'bench/dist/bare-server.js')]);
  const bareGrpc = await startProcess([path.join(ROOT, 'bench/dist/bare-grpc-server.js')]);
  const lines: string[] = [];
  try {
    await firstOk(ours, '/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], data: irisRow }] }));
    const bin1 = v2BinaryRow();
    const grpcRequest = { model_name: 'iris', inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: irisRow } }], outputs: OUTPUTS.map((name) => ({ name })) };
    const table: string[] = [];
    const notes: string[] = [];
    for (const transport of ['http', 'grpc'] as const) {
      const load = async (proc: Proc, concurrency: number, secs: number): Promise<LoadResult> =>
        transport === 'http'
          ? wrk({ url: `${proc.url}/v2/models/iris/infer`, body: bin1.body, headers: bin1.headers, connections: concurrency, seconds: secs }, dir)
          : h2load({ target: proc.grpcTarget!, method: 'inference.GRPCInferenceService/ModelInfer', request: grpcRequest, concurrency, streams: 1, seconds: secs }, dir);
      // perf_analyzer has no warm-up of its own: its first window would otherwise measure the server's JIT.
      await load(ours, 4, 1);
      const csv = path.join(dir, `${transport}.csv`);
      const target = transport === 'http' ? ours.url.replace('http://', '') : ours.grpcTarget!;
      // One pass over concurrency 1..4; windows of windowMs until three agree within 50% (a loaded machine never
      // gets perf_analyzer's default 10%).
      const failed = await run(bin, ['-m', 'iris', '-u', target, '-i', transport, '--concurrency-range', '1:4', '--measurement-interval', String(windowMs), '--stability-percentage', '50', '--input-data', inputData, '-f', csv], {
        timeout: 30 * 60_000,
        maxBuffer: 16 << 20,
      }).then(
        () => undefined,
        // An unstable machine ("Failed to obtain stable measurement") loses this transport's rows, not the bench.
        (e: { stdout?: string; stderr?: string; message: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-2).join(' ') || e.message,
      );
      if (failed) {
        notes.push(`perf_analyzer over ${transport} failed: ${failed}`);
        process.stderr.write(`${notes[notes.length - 1]}\n`);
        continue;
      }
      for (const pa of parseCsv(csv)) {
        const measured = async (proc: Proc) => (await load(proc, pa.concurrency, 1), load(proc, pa.concurrency, seconds));
        const mine = await measured(ours);
        const bare = await measured(transport === 'http' ? bareHttp : bareGrpc);
        const row = `| ${transport === 'http' ? 'HTTP' : 'gRPC'} | ${pa.concurrency} | ${pa.rps.toFixed(0)} | ${pa.p50.toFixed(2)} | ${pa.p99.toFixed(2)} | ${mine.rps.toFixed(0)} | ${mine.p50.toFixed(2)} | ${mine.p99.toFixed(2)} | ${(mine.rps / bare.rps).toFixed(2)} | ${mine.errors} |`;
        table.push(row);
        process.stderr.write(`perf_analyzer ${transport} c=${pa.concurrency}: ${pa.rps.toFixed(0)} infer/s p50 ${pa.p50.toFixed(2)} ms p99 ${pa.p99.toFixed(2)} ms; ${transport === 'http' ? 'wrk' : 'h2load'} ${mine.rps.toFixed(0)} req/s (${(mine.rps / bare.rps).toFixed(2)}x bare)\n`);
      }
    }
    lines.push(
      `NVIDIA perf_analyzer (vendored source, Triton protocol) against SKLEARN_SERVER native iris, V2, 1 row (-b 1), ${windowMs} ms windows; beside it the bench's own wrk (HTTP) / h2load (gRPC) sending the same request at the same concurrency for ${seconds} s, and their ratio to the bare Node http / grpc-js server in the same run (perf_analyzer cannot drive the bare servers, so its figures are absolute):`,
      '',
      '| transport | concurrency | perf_analyzer infer/s | p50 ms | p99 ms | wrk/h2load req/s | p50 ms | p99 ms | × bare | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...table,
      ...(notes.length ? ['', ...notes] : []),
    );
  } finally {
    await Promise.all([ours.stop(), bareHttp.stop(), bareGrpc.stop()]);
  }
  return lines;
}
