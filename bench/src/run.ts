/**
 * npm run bench [-- --quick] [-- --only <substring>]: starts a bare Node HTTP server and the modelfleet servers
 * on loopback, drives each workload with wrk (REST) or h2load (gRPC), 16 in flight, after a warm-up, and reports req/s and p50/p99 as
 * ratios to the bare server measured in the same run, plus idle/after-load memory (PSS of the whole process tree,
 * Python included) and cold start to first 200. Writes bench/results/latest.{json,md}.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { firstOk, pssMiB, startProcess, type Proc } from './processes.js';
import { h2load } from './h2load.js';
import { wrk, type LoadResult } from './wrk.js';
import { benchDetectors } from './detectors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'shared/dist/cli.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const SECONDS = quick ? 2 : 10;
const WARMUP = quick ? 1 : 3;
/** Servers that exist to compare a setting (inline vs worker threads, one vs two processes), not to measure a server. */
const ABLATIONS = new Set(['sklearn-native-no-inline', 'sklearn-native-2proc', 'onnx-mlp-inline', 'onnx-mlp-pool']);
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

const TRAIN_XGB = `
import sys, numpy as np, xgboost as xgb
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=20000, n_features=20, random_state=0)
xgb.XGBClassifier(n_estimators=200, max_depth=6, tree_method='hist').fit(X, y).save_model(sys.argv[1])
`;

// A small tabular MLP (32 -> 64 -> 64 -> 10, softmax), exported with torch.onnx (Debian's python3-torch).
const EXPORT_MLP = `
import sys, torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10), torch.nn.Softmax(dim=1)).eval()
torch.onnx.export(m, torch.zeros(1, 32), sys.argv[1], input_names=['x'], output_names=['probs'], dynamic_axes={'x': {0: 'n'}, 'probs': {0: 'n'}}, opset_version=13)
`;
const MLP_WIDTH = 32;

/** bench/.cache/<dir>, with <file> written by Python `code` (given the file's path) unless it is there already. */
async function trainedInPython(dir: string, file: string, modules: string[], code: string): Promise<string> {
  const folder = path.join(ROOT, 'bench/.cache', dir);
  if (!existsSync(path.join(folder, file))) {
    mkdirSync(folder, { recursive: true });
    const { findPython } = await import('@modelfleet/shared');
    const py = await findPython(modules);
    await promisify(execFile)(py.bin, ['-c', code, path.join(folder, file)]);
  }
  return folder;
}

/** Models are trained here (once, cached under bench/.cache): nothing is downloaded. */
async function trainModels(): Promise<{ iris: string; xgb: string; trivial: string; graphs: string; mlp: string }> {
  const iris = path.join(ROOT, 'bench/.cache/iris');
  if (!existsSync(path.join(iris, 'model.joblib'))) {
    mkdirSync(iris, { recursive: true });
    await promisify(execFile)(process.execPath, [CLI, 'train-example', iris]);
  }
  const xgbDir = await trainedInPython('xgb200', 'model.json', ['xgboost', 'sklearn'], TRAIN_XGB);
  // The language wrapper's cost with nothing to compute: a class whose predict returns its input.
  const trivial = path.join(ROOT, 'bench/.cache/trivial');
  mkdirSync(trivial, { recursive: true });
  writeFileSync(path.join(trivial, 'Trivial.py'), 'class Trivial:\n    def predict(self, X, features_names):\n        return X\n');
  // The graph layer's cost: the iris model alone in a deployment, and under a chain of four one-child routers.
  const graphs = path.join(ROOT, 'bench/.cache/graphs');
  mkdirSync(graphs, { recursive: true });
  const sdep = (name: string, graph: string) =>
    `apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: ${name}}\nspec:\n  predictors:\n  - name: p\n    graph: ${graph}\n`;
  const leaf = `{name: iris, implementation: SKLEARN_SERVER, modelUri: ${iris}}`;
  let chain = leaf;
  for (let i = 4; i >= 1; i--) chain = `{name: hop${i}, implementation: SIMPLE_ROUTER, children: [${chain}]}`;
  writeFileSync(path.join(graphs, 'one.yaml'), sdep('one', leaf));
  writeFileSync(path.join(graphs, 'chain4.yaml'), sdep('chain4', chain));
  const mlp = await trainedInPython('onnx-mlp', 'model.onnx', ['torch', 'onnx'], EXPORT_MLP);
  return { iris, xgb: xgbDir, trivial, graphs, mlp };
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
  if (detectorOnly) return report([], {}, detectorLines);
  const models = await trainModels();
  const predictions = '/api/v1.0/predictions';
  const sklearn = (name: string, engine: string, env?: Record<string, string>): ServerSpec => ({
    name,
    args: [CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', models.iris, '--model-name', 'iris', '--param', `engine=${engine}`],
    env,
    probe: { path: predictions, body: seldon(1) },
  });
  const servers: ServerSpec[] = [
    { name: 'bare-node', args: [path.join(ROOT, 'bench/dist/bare-server.js')], probe: { path: '/', body: '{}' } },
    sklearn('sklearn-native', 'native'),
    // The same model with every request sent to a worker thread: what running small requests inline saves.
    sklearn('sklearn-native-no-inline', 'native', { MODELFLEET_INLINE_BUDGET_US: '0' }),
    sklearn('sklearn-python', 'python'),
    // Two server processes sharing the port: for large JSON bodies one event loop is the limit.
    sklearn('sklearn-native-2proc', 'native', { MODELFLEET_HTTP_PROCESSES: '2' }),
    { name: 'graph-1-node', args: [CLI, 'run', path.join(models.graphs, 'one.yaml')], probe: { path: predictions, body: seldon(1) } },
    { name: 'graph-4-routers', args: [CLI, 'run', path.join(models.graphs, 'chain4.yaml')], probe: { path: predictions, body: seldon(1) } },
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
    ...grpcWorkloads('sklearn-python'),
    { name: 'iris 1 row, Seldon REST', server: 'graph-1-node', path: predictions, body: seldon(1) },
    { name: 'iris 1 row, Seldon REST', server: 'graph-4-routers', path: predictions, body: seldon(1) },
    { name: 'trivial Python class (2 workers), 1 row, Seldon REST', server: 'python-class-2w', path: predictions, body: seldon(1) },
    { name: 'xgboost 200 trees, 1 row, Seldon REST', server: 'xgboost-native', path: predictions, body: JSON.stringify({ data: { ndarray: [new Array(20).fill(0.5)] } }) },
    { name: 'xgboost 200 trees, 10k rows x 20, V2 binary', server: 'xgboost-native', path: '/v2/models/xgb/infer', body: xgbRows.body, headers: xgbRows.headers },
    ...mlpWorkloads('onnx-mlp', true),
    ...mlpWorkloads('onnx-mlp-inline', true),
    ...mlpWorkloads('onnx-mlp-pool', false),
  ]
    .filter((w) => w.server === 'bare-node' || !only || w.name.includes(only) || w.server.includes(only))
    // --quick (under two minutes) leaves out the ablation servers unless --only asks for them.
    .filter((w) => !quick || only || !ABLATIONS.has(w.server));

  const results: Array<Workload & LoadResult & { rpsRatio: number; p50Ratio: number; p99Ratio: number; sessionRun?: SessionRunShare }> = [];
  const memory: Record<string, { coldStartMs: number; idleMiB: number; afterLoadMiB: number }> = {};
  let bare: LoadResult | undefined;
  for (const spec of servers) {
    const mine = workloads.filter((w) => w.server === spec.name);
    if (!mine.length) continue;
    const proc: Proc = await startProcess(spec.args, spec.env);
    try {
      const coldStartMs = await firstOk(proc, spec.probe.path, spec.probe.body);
      await new Promise((r) => setTimeout(r, 500));
      const idleMiB = pssMiB(proc.child.pid!);
      for (const w of mine) {
        let r: LoadResult;
        let before: Awaited<ReturnType<typeof sessionRunStats>>;
        if (w.grpc) {
          const spec = { target: proc.grpcTarget!, ...w.grpc, concurrency: CONNECTIONS };
          await h2load({ ...spec, seconds: WARMUP }, work);
          before = await sessionRunStats(proc.url, 'mlp');
          r = await h2load({ ...spec, seconds: SECONDS }, work);
        } else {
          const load = { url: `${proc.url}${w.path}`, body: w.body, headers: { 'content-type': 'application/json', ...w.headers }, connections: CONNECTIONS };
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
        const row = { ...w, ...r, rpsRatio: r.rps / (bare?.rps ?? NaN), p50Ratio: r.p50 / (bare?.p50 ?? NaN), p99Ratio: r.p99 / (bare?.p99 ?? NaN), ...(sessionRun ? { sessionRun } : {}) };
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
  report(results, memory, detectorLines);
}

interface SessionRunShare {
  meanUs: number;
  inlineRuns: number;
  shareOfRequest: number;
}

function report(
  results: Array<Workload & LoadResult & { rpsRatio: number; p50Ratio: number; p99Ratio: number; sessionRun?: SessionRunShare }>,
  memory: Record<string, { coldStartMs: number; idleMiB: number; afterLoadMiB: number }>,
  detectorLines: string[] = [],
): void {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const lines = [
    `Machine: ${machine}. wrk -t2 -c${CONNECTIONS}, ${SECONDS}s after ${WARMUP}s warm-up, loopback${quick ? ' (--quick)' : ''}.`,
    '',
    '| workload | server | req/s | × bare | p50 ms | p99 ms | p99 × bare | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.server} | ${r.rps.toFixed(0)} | ${r.rpsRatio.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p99Ratio.toFixed(2)} | ${r.errors} |`,
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
    ...(detectorLines.length ? ['', ...detectorLines] : []),
  ];
  const md = lines.join('\n') + '\n';
  process.stdout.write(`\n${md}`);
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify({ machine, quick, seconds: SECONDS, connections: CONNECTIONS, results: results.map(({ body: _b, headers: _h, ...r }) => r), memory }, null, 2);
  writeFileSync(path.join(dir, `${stamp}.json`), json);
  writeFileSync(path.join(dir, `${stamp}.md`), md);
  copyFileSync(path.join(dir, `${stamp}.json`), path.join(dir, 'latest.json'));
  copyFileSync(path.join(dir, `${stamp}.md`), path.join(dir, 'latest.md'));
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
