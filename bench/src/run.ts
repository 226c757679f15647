/**
 * npm run bench [-- --quick] [-- --only <substring>]: starts a bare Node HTTP server and the modelfleet servers
 * on loopback, drives each workload with wrk (REST) or h2load (gRPC), 16 in flight, after a warm-up, and reports req/s and p50/p99 as
 * ratios to the bare server measured in the same run, plus idle/after-load memory (PSS of the whole process tree,
 * Python included) and cold start to first 200. Writes bench/results/latest.{json,md}.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { firstOk, pssMiB, startProcess, type Proc } from './processes.js';
import { h2load } from './h2load.js';
import { grpcClientLoad } from './grpc-stream.js';
import { coldStarts, IDLE_AFTER_MS, type ColdStart, type ColdStartSpec } from './cold-start.js';
import { compareBridges, KNN_CLASS, type BridgeRow, type CrashOutcome } from './bridges.js';
import { wrk, type LoadResult } from './wrk.js';
import { treeShapThroughput, type TreeShapThroughput } from './treeshap.js';
import { CLI, MLP_WIDTH, ROOT, trainModels } from './models.js';
import { benchDetectors } from './detectors.js';
import { benchPerfAnalyzer } from './perf-analyzer.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const SECONDS = quick ? 2 : 10;
const WARMUP = quick ? 1 : 3;
/** Servers that exist to compare a setting (inline vs worker threads, one vs two processes), not to measure a server. */
// The observability servers (obs-*) are compared with obs-plain, the same server without logging or tracing.
const ABLATIONS = new Set([
  'sklearn-native-no-inline',
  'sklearn-native-2proc',
  'onnx-mlp-inline',
  'onnx-mlp-pool',
  'obs-plain',
  'obs-log-live',
  'obs-log-dead',
  'obs-trace-1.0',
  'obs-trace-0.1',
]);
const CONNECTIONS = 16;
const work = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-bench-'));

interface ServerSpec {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** A request that must answer 200 for the server to count as started (cold start is measured to it). */
  probe: { path: string; body: string };
}

interface Workload {
  name: string;
  server: string;
  path: string;
  body: Buffer | string;
  headers?: Record<string, string>;
  /** A gRPC workload: the method and request (path/body unused). */
  grpc?: { method: string; request: Record<string, unknown> };
  /** Requests in flight, when not CONNECTIONS (the batching workloads use 64 clients). */
  connections?: number;
  /** Driven by a grpc-js client instead of h2load: unary V2 ModelInfer, or the same over one ModelStreamInfer stream. */
  client?: 'unary' | 'stream';
}

const irisRow = [5.1, 3.5, 1.4, 0.2];
const rows = (n: number) => Array.from({ length: n }, (_, i) => irisRow.map((v, j) => v + ((i * 7 + j) % 10) / 10));
const seldon = (n: number) => JSON.stringify({ data: { ndarray: n === 1 ? [irisRow] : rows(n) } });
const v2json = (n: number, dt = 'FP64') =>
  JSON.stringify({ inputs: [{ name: 'input-0', shape: [n, 4], datatype: dt, data: rows(n).flat() }], outputs: [{ name: 'predict_proba' }] });
function v2binary(n: number, width = 4, output = 'predict_proba'): { body: Buffer; headers: Record<string, string> } {
  const values = new Float32Array(n * width);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 1000) / 250 - 2;
  const raw = Buffer.from(values.buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input-0', shape: [n, width], datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
      outputs: [{ name: output, parameters: { binary_data: true } }],
    }),
  );
  return { body: Buffer.concat([header, raw]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

/** The ONNX engine's own count of time inside session.run (inline runs), from the model metadata. */
async function sessionRunStats(url: string, model: string): Promise<{ runs: number; ms: number } | undefined> {
  try {
    const md = (await (await fetch(`${url}/v2/models/${model}`)).json()) as { parameters?: { session_runs?: number; session_run_total_ms?: number } };
    if (md.parameters?.session_runs === undefined) return undefined;
    return { runs: md.parameters.session_runs, ms: md.parameters.session_run_total_ms ?? 0 };
  } catch {
    return undefined;
  }
}

const seldonMsg = (n: number) => ({ data: { ndarray: { values: (n === 1 ? [irisRow] : rows(n)).map((r) => ({ listValue: { values: r.map((v) => ({ numberValue: v })) } })) } } });
const seldonTensor = (n: number) => ({ data: { tensor: { shape: [n, 4], values: (n === 1 ? [irisRow] : rows(n)).flat() } } });
const v2Msg = (n: number) => ({
  model_name: 'iris',
  inputs: [{ name: 'input-0', datatype: 'FP64', shape: [n, 4], contents: { fp64_contents: (n === 1 ? [irisRow] : rows(n)).flat() } }],
  outputs: [{ name: 'predict_proba' }],
});
function grpcWorkloads(server: string): Workload[] {
  const w = (name: string, method: string, request: Record<string, unknown>): Workload => ({ name, server, path: '', body: '', grpc: { method, request } });
  return [
    w('iris 1 row, Seldon gRPC (ndarray)', 'seldon.protos.Model/Predict', seldonMsg(1)),
    w('iris 1000 rows, Seldon gRPC (tensor)', 'seldon.protos.Model/Predict', seldonTensor(1000)),
    w('iris 1 row, V2 gRPC', 'inference.GRPCInferenceService/ModelInfer', v2Msg(1)),
    w('iris 1000 rows, V2 gRPC', 'inference.GRPCInferenceService/ModelInfer', v2Msg(1000)),
  ];
}

async function main(): Promise<void> {
  const detectorOnly = only !== undefined && 'detectors'.startsWith(only);
  const detectorLines = !only || detectorOnly ? await benchDetectors(quick) : [];
  if (detectorOnly) return report([], {}, [], { rows: [], crashes: [] }, undefined, detectorLines);
  const models = await trainModels();
  // NVIDIA perf_analyzer against the sklearn server (built from vendored source on first use, then cached).
  const paOnly = only !== undefined && 'perf_analyzer'.startsWith(only);
  const paLines = !only || paOnly ? await benchPerfAnalyzer(models.iris, quick, work) : [];
  if (paOnly) return report([], {}, [], { rows: [], crashes: [] }, undefined, paLines);
  // Request logging and tracing go to a live sink process (or, for the dead case, a port nobody listens on).
  const sink = await startProcess([path.join(ROOT, 'bench/dist/event-sink.js')]);
  const deadPort = await closedPort();
  const predictions = '/api/v1.0/predictions';
  const sklearn = (name: string, engine: string, env?: Record<string, string>): ServerSpec => ({
    name,
    args: [CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', models.iris, '--model-name', 'iris', '--param', `engine=${engine}`],
    env,
    probe: { path: predictions, body: seldon(1) },
  });
  const servers: ServerSpec[] = [
    { name: 'bare-node', args: [path.join(ROOT, 'bench/dist/bare-server.js')], probe: { path: '/', body: '{}' } },
    { name: 'bare-grpc', args: [path.join(ROOT, 'bench/dist/bare-grpc-server.js')], probe: { path: '/', body: '{}' } },
    sklearn('sklearn-native', 'native'),
    // The same model with every request sent to a worker thread: what running small requests inline saves.
    sklearn('sklearn-native-no-inline', 'native', { MODELFLEET_INLINE_BUDGET_US: '0' }),
    sklearn('sklearn-python', 'python'),
    // Two server processes sharing the port: for large JSON bodies one event loop is the limit.
    sklearn('sklearn-native-2proc', 'native', { MODELFLEET_HTTP_PROCESSES: '2' }),
    { name: 'graph-1-node', args: [CLI, 'run', path.join(models.graphs, 'one.yaml')], probe: { path: predictions, body: seldon(1) } },
    { name: 'graph-4-routers', args: [CLI, 'run', path.join(models.graphs, 'chain4.yaml')], probe: { path: predictions, body: seldon(1) } },
    sklearn('obs-plain', 'native'),
    sklearn('obs-log-live', 'native', { MODELFLEET_LOGGER_URL: sink.url }),
    sklearn('obs-log-dead', 'native', { MODELFLEET_LOGGER_URL: `http://127.0.0.1:${deadPort}/` }),
    ...['1.0', '0.1'].map((ratio) =>
      sklearn(`obs-trace-${ratio}`, 'native', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sink.url}/v1/traces`, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio }),
    ),
    {
      name: 'python-class-2w',
      args: [CLI, 'serve', 'Trivial', '--model-dir', models.trivial, '--workers', '2'],
      probe: { path: predictions, body: seldon(1) },
    },
    {
      name: 'xgboost-native',
      args: [CLI, 'serve', 'XGBOOST_SERVER', '--model-uri', models.xgb, '--model-name', 'xgb'],
      probe: { path: predictions, body: JSON.stringify({ data: { ndarray: [new Array(20).fill(0.5)] } }) },
    },
  ];
  const explain = '/api/v1.0/explain';
  servers.push(
    {
      name: 'xgboost-treeshap',
      args: [CLI, 'serve', 'XGBOOST_SERVER', '--model-uri', models.explain, '--model-name', 'iris'],
      env: { MODELFLEET_EXPLAINER_TYPE: 'TreeShap' },
      probe: { path: explain, body: seldon(1) },
    },
    {
      name: 'sklearn-kernelshap',
      args: [CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', models.iris, '--model-name', 'iris', '--param', 'engine=native'],
      env: { MODELFLEET_EXPLAINER_TYPE: 'KernelShap', MODELFLEET_EXPLAINER_URI: path.join(models.explain, 'background.npy') },
      probe: { path: explain, body: seldon(1) },
    },
  );
  const mlpRow = Array.from({ length: MLP_WIDTH }, (_, i) => ((i * 37) % 17) / 8 - 1);
  const mlpSeldon = JSON.stringify({ data: { ndarray: [mlpRow] } });
  const mlpV2 = JSON.stringify({ inputs: [{ name: 'x', shape: [1, MLP_WIDTH], datatype: 'FP32', data: mlpRow }] });
  const mlpBin = v2binary(1000, MLP_WIDTH, 'probs');
  const mlpBin10k = v2binary(10_000, MLP_WIDTH, 'probs');
  const onnx = (name: string, env?: Record<string, string>): ServerSpec => ({
    name,
    args: [CLI, 'serve', 'TENSORFLOW_SERVER', '--model-uri', models.mlp, '--model-name', 'mlp'],
    env,
    probe: { path: predictions, body: mlpSeldon },
  });
  // Default (requests over the inline budget go to worker threads), everything inline, everything in workers.
  servers.push(onnx('onnx-mlp'), onnx('onnx-mlp-inline', { MODELFLEET_INLINE_BUDGET_US: '1000000000' }), onnx('onnx-mlp-pool', { MODELFLEET_INLINE_BUDGET_US: '0' }));
  // Adaptive batching off and on (MLServer's max_batch_size / max_batch_time) with 64 clients sending 1-row requests.
  // Off for the Python engine means no merging at all (MODELFLEET_MAX_BATCH_ROWS=1); sklearn-python merges what
  // queues while its processes are busy (the default), python-adaptive also gathers for up to 2 ms.
  const batching = { MLSERVER_MODEL_MAX_BATCH_SIZE: '64', MLSERVER_MODEL_MAX_BATCH_TIME: '0.002' };
  servers.push(sklearn('python-unbatched', 'python', { MODELFLEET_MAX_BATCH_ROWS: '1' }), sklearn('python-adaptive', 'python', batching));
  servers.push(onnx('onnx-adaptive', batching));
  const mlpGrpc = (server: string): Workload[] => [
    { name: 'onnx MLP 1 row, Seldon gRPC', server, path: '', body: '', grpc: { method: 'seldon.protos.Model/Predict', request: { data: { tensor: { shape: [1, MLP_WIDTH], values: mlpRow } } } } },
    { name: 'onnx MLP 1 row, V2 gRPC', server, path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelInfer', request: { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, MLP_WIDTH], contents: { fp32_contents: mlpRow } }] } } },
  ];
  const mlpWorkloads = (server: string, all: boolean): Workload[] => [
    { name: 'onnx MLP 1 row, Seldon REST', server, path: predictions, body: mlpSeldon },
    ...(all ? [{ name: 'onnx MLP 1 row, V2 REST', server, path: '/v2/models/mlp/infer', body: mlpV2 }] : []),
    { name: 'onnx MLP 1000 rows, V2 binary', server, path: '/v2/models/mlp/infer', body: mlpBin.body, headers: mlpBin.headers },
    { name: 'onnx MLP 10k rows, V2 binary', server, path: '/v2/models/mlp/infer', body: mlpBin10k.body, headers: mlpBin10k.headers },
    ...(all ? mlpGrpc(server) : []),
  ];
  const bin = v2binary(25_000);
  const xgbRows = v2binary(10_000, 20, 'booster');
  const v2 = '/v2/models/iris/infer';
  const workloads: Workload[] = [
    { name: 'bare node, fixed reply', server: 'bare-node', path: '/', body: seldon(1) },
    // grpc-js's own limit: the same protos, a fixed reply; the gRPC rows' "× bare gRPC" divide by these.
    { name: 'bare grpc-js, Seldon Predict', server: 'bare-grpc', path: '', body: '', grpc: { method: 'seldon.protos.Model/Predict', request: seldonMsg(1) } },
    { name: 'bare grpc-js, V2 ModelInfer', server: 'bare-grpc', path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelInfer', request: v2Msg(1) } },
    { name: 'bare grpc-js, V2 unary (grpc-js client)', server: 'bare-grpc', path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelInfer', request: v2Msg(1) }, client: 'unary' as const },
    { name: 'bare grpc-js, V2 one stream (grpc-js client)', server: 'bare-grpc', path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelStreamInfer', request: v2Msg(1) }, client: 'stream' as const },
    { name: 'iris 1 row, Seldon REST', server: 'sklearn-native', path: predictions, body: seldon(1) },
    { name: 'iris 1000 rows, Seldon REST', server: 'sklearn-native', path: predictions, body: seldon(1000) },
    { name: 'iris 1 row, V2 REST', server: 'sklearn-native', path: v2, body: v2json(1) },
    { name: '100k FP32 (25k rows), V2 JSON', server: 'sklearn-native', path: v2, body: v2json(25_000, 'FP32') },
    { name: '100k FP32 (25k rows), V2 binary', server: 'sklearn-native', path: v2, body: bin.body, headers: bin.headers },
    { name: 'iris 1 row, Seldon REST', server: 'sklearn-native-no-inline', path: predictions, body: seldon(1) },
    { name: 'iris 1 row, Seldon REST', server: 'sklearn-native-2proc', path: predictions, body: seldon(1) },
    { name: 'iris 1000 rows, Seldon REST', server: 'sklearn-native-2proc', path: predictions, body: seldon(1000) },
    { name: 'iris 1 row, Seldon REST', server: 'sklearn-python', path: predictions, body: seldon(1) },
    { name: 'iris 1000 rows, Seldon REST', server: 'sklearn-python', path: predictions, body: seldon(1000) },
    { name: 'iris 1 row, V2 REST', server: 'sklearn-python', path: v2, body: v2json(1) },
    { name: '100k FP32 (25k rows), V2 binary', server: 'sklearn-python', path: v2, body: bin.body, headers: bin.headers },
    ...grpcWorkloads('sklearn-native'),
    // Streaming against unary, both from the same grpc-js client with 16 in flight.
    { name: 'iris 1 row, V2 unary (grpc-js client)', server: 'sklearn-native', path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelInfer', request: v2Msg(1) }, client: 'unary' as const },
    { name: 'iris 1 row, V2 one stream (grpc-js client)', server: 'sklearn-native', path: '', body: '', grpc: { method: 'inference.GRPCInferenceService/ModelStreamInfer', request: v2Msg(1) }, client: 'stream' as const },
    ...grpcWorkloads('sklearn-python'),
    { name: 'iris 1 row, Seldon REST', server: 'graph-1-node', path: predictions, body: seldon(1) },
    { name: 'iris 1 row, Seldon REST', server: 'graph-4-routers', path: predictions, body: seldon(1) },
    { name: 'trivial Python class (2 workers), 1 row, Seldon REST', server: 'python-class-2w', path: predictions, body: seldon(1) },
    ...['obs-plain', 'obs-log-live', 'obs-log-dead', 'obs-trace-1.0', 'obs-trace-0.1'].map((server) => ({ name: 'iris 1 row, Seldon REST', server, path: predictions, body: seldon(1) })),
    { name: 'xgboost 200 trees, 1 row, Seldon REST', server: 'xgboost-native', path: predictions, body: JSON.stringify({ data: { ndarray: [new Array(20).fill(0.5)] } }) },
    { name: 'xgboost 200 trees, 10k rows x 20, V2 binary', server: 'xgboost-native', path: '/v2/models/xgb/infer', body: xgbRows.body, headers: xgbRows.headers },
    ...mlpWorkloads('onnx-mlp', true),
    ...mlpWorkloads('onnx-mlp-inline', true),
    ...mlpWorkloads('onnx-mlp-pool', false),
    ...['python-unbatched', 'sklearn-python', 'python-adaptive'].map((server) => ({ name: 'iris 1 row, V2 REST, 64 clients', server, path: v2, body: v2json(1), connections: 64 })),
    ...['onnx-mlp', 'onnx-adaptive'].map((server) => ({ name: 'onnx MLP 1 row, V2 REST, 64 clients', server, path: '/v2/models/mlp/infer', body: mlpV2, connections: 64 })),
    { name: 'explain TreeShap (xgboost iris, 100 trees), 1 row', server: 'xgboost-treeshap', path: explain, body: seldon(1) },
    { name: 'explain KernelShap exact (iris, 50 background rows), 1 row', server: 'sklearn-kernelshap', path: explain, body: seldon(1) },
  ]
    .filter((w) => w.server.startsWith('bare-') || !only || w.name.includes(only) || w.server.includes(only))
    // --quick (under two minutes) leaves out the ablation servers unless --only asks for them.
    .filter((w) => !quick || only || !ABLATIONS.has(w.server));

  const results: Row[] = [];
  const memory: Record<string, { coldStartMs: number; idleMiB: number; afterLoadMiB: number }> = {};
  let bare: LoadResult | undefined;
  const bareGrpc = new Map<string, LoadResult>();
  for (const spec of servers) {
    const mine = workloads.filter((w) => w.server === spec.name);
    if (!mine.length) continue;
    const proc: Proc = await startProcess(spec.args, spec.env);
    try {
      const coldStartMs = await firstOk(proc, spec.probe.path, spec.probe.body);
      await new Promise((r) => setTimeout(r, IDLE_AFTER_MS));
      const idleMiB = pssMiB(proc.child.pid!);
      for (const w of mine) {
        let r: LoadResult;
        let before: Awaited<ReturnType<typeof sessionRunStats>>;
        if (w.client) {
          const spec = { target: proc.grpcTarget!, request: w.grpc!.request, inFlight: w.connections ?? CONNECTIONS, mode: w.client };
          await grpcClientLoad({ ...spec, seconds: WARMUP });
          r = await grpcClientLoad({ ...spec, seconds: SECONDS });
        } else if (w.grpc) {
          const spec = { target: proc.grpcTarget!, ...w.grpc, concurrency: w.connections ?? CONNECTIONS };
          await h2load({ ...spec, seconds: WARMUP }, work);
          before = await sessionRunStats(proc.url, 'mlp');
          r = await h2load({ ...spec, seconds: SECONDS }, work);
        } else {
          const load = { url: `${proc.url}${w.path}`, body: w.body, headers: { 'content-type': 'application/json', ...w.headers }, connections: w.connections ?? CONNECTIONS };
          await wrk({ ...load, seconds: WARMUP }, work);
          before = await sessionRunStats(proc.url, 'mlp');
          r = await wrk({ ...load, seconds: SECONDS }, work);
        }
        const afterRun = before && (await sessionRunStats(proc.url, 'mlp'));
        // Share of each request's server time spent in session.run: mean run time against the event loop's time per
        // request (1/rps: one loop serves them all). Inline runs only; worker runs do not hold the loop.
        const sessionRun: SessionRunShare | undefined =
          before && afterRun && afterRun.runs > before.runs
            ? { meanUs: ((afterRun.ms - before.ms) * 1000) / (afterRun.runs - before.runs), inlineRuns: afterRun.runs - before.runs, shareOfRequest: ((afterRun.ms - before.ms) * 1000) / (afterRun.runs - before.runs) / (1e6 / r.rps) }
            : undefined;
        if (spec.name === 'bare-node') bare = r;
        // gRPC rows also divide by bare grpc-js answering the same method the same way (h2load, or a grpc-js client).
        const grpcKey = w.grpc && `${w.grpc.method} ${w.client ?? 'h2load'}`;
        if (grpcKey && spec.name === 'bare-grpc') bareGrpc.set(grpcKey, r);
        const grpcBase = grpcKey ? bareGrpc.get(grpcKey) : undefined;
        const row: Row = {
          ...w, ...r, rpsRatio: r.rps / (bare?.rps ?? NaN), p50Ratio: r.p50 / (bare?.p50 ?? NaN), p99Ratio: r.p99 / (bare?.p99 ?? NaN),
          ...(grpcBase ? { grpcRatio: r.rps / grpcBase.rps } : {}),
          ...(sessionRun ? { sessionRun } : {}),
        };
        results.push(row);
        process.stderr.write(
          `${w.name.padEnd(36)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}` +
            `${sessionRun ? `  session.run ${sessionRun.meanUs.toFixed(1)} us (${(sessionRun.shareOfRequest * 100).toFixed(0)}% of a request)` : ''}\n`,
        );
      }
      memory[spec.name] = { coldStartMs, idleMiB, afterLoadMiB: pssMiB(proc.child.pid!) };
    } finally {
      await proc.stop();
    }
  }
  // Cold start, launch -> first 200, median of 3 starts (1 with --quick), every model type against bare Node.
  let cold: ColdStart[] = [];
  if (!only || only === 'cold') {
    const firstCache = path.join(work, 'cache-first');
    const warmCache = path.join(work, 'cache-warm');
    const skl = (engine: string, cache: string, env: Record<string, string> = {}) => [
      [CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', models.iris, '--model-name', 'iris', '--param', `engine=${engine}`],
      { MODELFLEET_CACHE_DIR: cache, ...env },
    ] as const;
    const seldonProbe = { path: predictions, body: seldon(1) };
    const specs: ColdStartSpec[] = [
      { name: 'bare node', args: [path.join(ROOT, 'bench/dist/bare-server.js')], probe: { path: '/', body: '{}' } },
      { name: 'sklearn pickle, native, first start (Python exports)', args: [...skl('native', firstCache)[0]], env: skl('native', firstCache)[1], probe: seldonProbe, before: () => rmSync(firstCache, { recursive: true, force: true }) },
      { name: 'sklearn pickle, native, restart (export cached)', args: [...skl('native', warmCache)[0]], env: skl('native', warmCache)[1], probe: seldonProbe, warm: true },
      { name: 'sklearn pickle, native, restart, 2 HTTP processes', args: [...skl('native', warmCache)[0]], env: skl('native', warmCache, { MODELFLEET_HTTP_PROCESSES: '2' })[1], probe: seldonProbe, settleMs: 4000 },
      { name: 'xgboost JSON, native', args: [CLI, 'serve', 'XGBOOST_SERVER', '--model-uri', models.xgb, '--model-name', 'xgb'], probe: { path: predictions, body: JSON.stringify({ data: { ndarray: [new Array(20).fill(0.5)] } }) } },
      { name: 'ONNX MLP (TENSORFLOW_SERVER), onnxruntime', args: [CLI, 'serve', 'TENSORFLOW_SERVER', '--model-uri', models.mlp, '--model-name', 'mlp'], probe: { path: predictions, body: mlpSeldon } },
      { name: 'sklearn pickle, Python engine (1 worker)', args: [...skl('python', firstCache)[0], '--workers', '1'], env: skl('python', firstCache)[1], probe: seldonProbe },
      { name: 'Python class (language wrapper, 1 worker)', args: [CLI, 'serve', 'Trivial', '--model-dir', models.trivial, '--workers', '1'], probe: seldonProbe },
    ];
    cold = await coldStarts(specs, quick ? 1 : 3);
    for (const c of cold) process.stderr.write(`cold start ${c.name.padEnd(56)} ${(c.medianMs / 1000).toFixed(2)} s  idle ${c.idleMiB.toFixed(0)} MiB\n`);
  }
  // The Python bridge: our framed pipe against pythonia, the same class, one Python process each.
  let bridges: { rows: BridgeRow[]; crashes: CrashOutcome[] } = { rows: [], crashes: [] };
  if (!only || only === 'bridge') {
    const knn = path.join(ROOT, 'bench/.cache/knn');
    mkdirSync(knn, { recursive: true });
    writeFileSync(path.join(knn, 'KnnIris.py'), KNN_CLASS);
    bridges = await compareBridges(
      [
        { bridge: 'modelfleet (framed pipe)', args: [CLI, 'serve', 'KnnIris', '--model-dir', knn, '--workers', '1'] },
        { bridge: 'pythonia', args: [path.join(ROOT, 'bench/dist/pythonia-server.js'), knn, 'KnnIris'], env: { PYTHON_BIN: '/usr/bin/python3' } },
      ],
      (n) => JSON.stringify({ data: { ndarray: n === 1 ? [irisRow] : rows(n) } }),
      { seconds: SECONDS, warmup: WARMUP, work },
    );
  }
  const treeshap = !only || /treeshap|explain/i.test(only) ? await treeShapThroughput(mkdtempSync(path.join(work, 'treeshap-'))) : undefined;
  if (treeshap) process.stderr.write(`TreeShap ${treeshap.oursRowsPerSec.toFixed(0)} rows/s vs xgboost pred_contribs ${treeshap.xgboostRowsPerSec.toFixed(0)} rows/s (${treeshap.ratio.toFixed(2)}x)\n`);
  await sink.stop();
  report(results, memory, cold, bridges, treeshap, [...detectorLines, ...(paLines.length ? ['', ...paLines] : [])]);
}

type Row = Workload & LoadResult & { rpsRatio: number; p50Ratio: number; p99Ratio: number; grpcRatio?: number; sessionRun?: SessionRunShare };

/** A loopback port with nothing listening: a sink that is down. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface SessionRunShare {
  meanUs: number;
  inlineRuns: number;
  shareOfRequest: number;
}

function report(
  results: Row[],
  memory: Record<string, { coldStartMs: number; idleMiB: number; afterLoadMiB: number }>,
  cold: ColdStart[],
  bridges: { rows: BridgeRow[]; crashes: CrashOutcome[] },
  treeshap?: TreeShapThroughput,
  detectorLines: string[] = [],
): void {
  const bareCold = cold.find((c) => c.name === 'bare node');
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const lines = [
    `Machine: ${machine}. wrk -t2 -c${CONNECTIONS}, ${SECONDS}s after ${WARMUP}s warm-up, loopback${quick ? ' (--quick)' : ''}.`,
    '',
    '| workload | server | req/s | × bare | × bare gRPC | p50 ms | p99 ms | p99 × bare | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.server} | ${r.rps.toFixed(0)} | ${r.rpsRatio.toFixed(2)} | ${r.grpcRatio?.toFixed(2) ?? ''} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p99Ratio.toFixed(2)} | ${r.errors} |`,
    ),
    '',
    ...(results.some((r) => r.sessionRun)
      ? [
          '| ONNX workload | server | session.run mean us (inline) | share of a request |',
          '|---|---|---:|---:|',
          ...results.filter((r) => r.sessionRun).map((r) => `| ${r.name} | ${r.server} | ${r.sessionRun!.meanUs.toFixed(1)} | ${(r.sessionRun!.shareOfRequest * 100).toFixed(0)}% |`),
          '',
        ]
      : []),
    '| server | cold start to first 200 | idle PSS | PSS after load |',
    '|---|---:|---:|---:|',
    ...Object.entries(memory).map(([k, m]) => `| ${k} | ${(m.coldStartMs / 1000).toFixed(2)} s | ${m.idleMiB.toFixed(0)} MiB | ${m.afterLoadMiB.toFixed(0)} MiB |`),
    ...(cold.length
      ? [
          '',
          `Cold start, launch → first 200 (median of ${cold[0].runs.length}), one HTTP process unless named, and idle PSS of the process tree:`,
          '',
          '| model | first 200 | × bare node | idle PSS |',
          '|---|---:|---:|---:|',
          ...cold.map((c) => `| ${c.name} | ${(c.medianMs / 1000).toFixed(2)} s | ${(c.medianMs / (bareCold?.medianMs ?? NaN)).toFixed(1)} | ${c.idleMiB.toFixed(0)} MiB |`),
        ]
      : []),
    ...(bridges.rows.length
      ? [
          '',
          'Python bridge, KNN iris language-wrapper class over Seldon REST, one Python process (× pythonia = ours / pythonia):',
          '',
          '| rows | in flight | framed pipe req/s | pythonia req/s | × pythonia | framed pipe p50 ms | pythonia p50 ms |',
          '|---:|---:|---:|---:|---:|---:|---:|',
          ...bridges.rows
            .filter((r) => r.bridge.startsWith('modelfleet'))
            .map((m) => {
              const p = bridges.rows.find((r) => r.bridge === 'pythonia' && r.rows === m.rows && r.inFlight === m.inFlight);
              return `| ${m.rows} | ${m.inFlight} | ${m.rps.toFixed(0)} | ${p?.rps.toFixed(0) ?? ''} | ${p ? (m.rps / p.rps).toFixed(2) : ''} | ${m.p50.toFixed(2)} | ${p?.p50.toFixed(2) ?? ''} |`;
            }),
          '',
          '| bridge | the request whose Python was killed | the next request |',
          '|---|---|---|',
          ...bridges.crashes.map((c) => `| ${c.bridge} | ${c.killed.replace(/\|/g, '/')} | ${c.next.replace(/\|/g, '/')} |`),
        ]
      : []),
    ...(treeshap
      ? [
          '',
          '| TreeShap, breast cancer XGBoost (100 trees, depth 6), one thread | rows/s |',
          '|---|---:|',
          `| modelfleet exact path-dependent TreeSHAP | ${treeshap.oursRowsPerSec.toFixed(0)} |`,
          `| xgboost pred_contribs (nthread=1) | ${treeshap.xgboostRowsPerSec.toFixed(0)} |`,
          `| ratio | ${treeshap.ratio.toFixed(2)}x |`,
        ]
      : []),
    ...(detectorLines.length ? ['', ...detectorLines] : []),
  ];
  const md = lines.join('\n') + '\n';
  process.stdout.write(`\n${md}`);
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify({ machine, quick, seconds: SECONDS, connections: CONNECTIONS, results: results.map(({ body: _b, headers: _h, ...r }) => r), memory, coldStart: cold, bridges, treeshap }, null, 2);
  writeFileSync(path.join(dir, `${stamp}.json`), json);
  writeFileSync(path.join(dir, `${stamp}.md`), md);
  copyFileSync(path.join(dir, `${stamp}.json`), path.join(dir, 'latest.json'));
  copyFileSync(path.join(dir, `${stamp}.md`), path.join(dir, 'latest.md'));
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
