// End to end: model servers with request logging (the observability work's CloudEvents logger) pointed at detector
// servers; normal then outlying / shifted traffic; the detectors' metrics scraped by the real Prometheus (Debian's
// `prometheus`) show the outliers and the drift. A detector that is down costs the model's predictions nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sklearnModels, type TrainedModels } from './helpers/models.js';
import { CLI, postJson, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';
import { startPrometheus, type Prometheus } from './helpers/prometheus.js';
import { python } from './helpers/python.js';

const dir = mkdtempSync(path.join(tmpdir(), 'detect-e2e-'));
let iris: number[][];
let models: TrainedModels;
let prom: Prometheus;
const detectors: { url: string; host: string; proc: ChildProcess; stop(): Promise<void> }[] = [];
const servers: ServerProcess[] = [];

function serveDetector(args: string[]) {
  const proc = spawn(process.execPath, [CLI, 'detector', 'serve', '--http_port', '0', ...args], {
    env: { ...process.env, MODELFLEET_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise<(typeof detectors)[number]>((resolve, reject) => {
    proc.stderr!.on('data', () => {
      const m = /listening on (\d+)/.exec(out);
      if (m) {
        const d = { url: `http://127.0.0.1:${m[1]}/`, host: `127.0.0.1:${m[1]}`, proc, stop: async () => (proc.exitCode === null && proc.kill('SIGTERM'), exited) };
        detectors.push(d);
        resolve(d);
      }
    });
    proc.once('exit', (c) => reject(new Error(`detector exited ${c}:\n${out}`)));
  });
}

/** Polls a PromQL query until `ok` holds for its value (the sum of the result), or fails with the last value. */
async function eventually(promql: string, ok: (v: number) => boolean): Promise<number> {
  const deadline = Date.now() + 90_000;
  let v = NaN;
  while (Date.now() < deadline) {
    const r = await prom.query(promql);
    v = r.reduce((s, x) => s + Number(x.value[1]), 0);
    if (r.length && ok(v)) return v;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${promql} = ${v}`);
}

let outlierDet: (typeof detectors)[number];
let driftDet: (typeof detectors)[number];
let model: ServerProcess;
let graph: ServerProcess;

before(async () => {
  models = await sklearnModels();
  const csv = await python(`
from sklearn.datasets import load_iris
for r in load_iris().data: print(",".join(repr(float(v)) for v in r))
`);
  writeFileSync(path.join(dir, 'iris.csv'), csv);
  iris = csv.trim().split('\n').map((l) => l.split(',').map(Number));
  const run = promisify(execFile);
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'Mahalanobis', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'maha'), '--threshold-perc', '99']);
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'KSDrift', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'ks')]);
  outlierDet = await serveDetector(['--storage_uri', path.join(dir, 'maha'), '--protocol', 'seldon.http', '--event_type', 'io.seldon.serving.inference.outlier', 'OutlierDetector']);
  driftDet = await serveDetector(['--storage_uri', path.join(dir, 'ks'), '--protocol', 'seldon.http', '--event_type', 'io.seldon.serving.inference.drift', 'DriftDetector', '--drift_batch_size', '30']);
  // A standalone model logging everything (the detector acknowledges and skips the response events) ...
  model = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], { MODELFLEET_LOGGER_URL: outlierDet.url, MODELFLEET_LOGGER_MODE: 'all' });
  servers.push(model);
  // ... and a graph node whose logger.url is the drift detector.
  const yaml = path.join(dir, 'sdep.yaml');
  writeFileSync(yaml, `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: iris-drift}
spec:
  predictors:
  - name: main
    graph:
      name: iris
      implementation: SKLEARN_SERVER
      modelUri: ${models.paths.iris}
      logger: {mode: request, url: "${driftDet.url}"}
`);
  graph = await spawnServer([CLI, 'run', yaml]);
  servers.push(graph);
  await Promise.all([waitReady(model), waitReady(graph)]);
  prom = await startPrometheus({ outlier: outlierDet.host, drift: driftDet.host });
});

after(async () => {
  await prom?.stop();
  for (const s of servers) await s.stop();
  for (const d of detectors) await d.stop();
});

/** Sum of a metric's samples in a Prometheus text page. */
async function scrapeSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** Waits until the model's request logger has delivered `n` events in all. */
async function delivered(n: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  while ((await scrapeSum(`${model.metricsUrl}/metrics`, 'modelfleet_logger_events_sent_total')) < n) {
    if (Date.now() > deadline) throw new Error(`the logger did not deliver ${n} events:\n${model.logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('outliers in logged traffic show in the outlier detector metrics in Prometheus', { timeout: 300_000 }, async () => {
  const normal = iris.filter((_, i) => i % 5 === 0).slice(0, 30);
  for (const row of normal) assert.equal((await postJson(`${model.url}/api/v1.0/predictions`, { data: { ndarray: [row] } })).status, 200);
  await delivered(60); // 30 requests + 30 responses (the detector skips the responses)
  const flaggedNormal = await scrapeSum(`${outlierDet.url}v1/metrics`, 'seldon_metric_outlier_is_outlier_total');
  assert.ok(flaggedNormal <= 3, `${flaggedNormal} of 30 normal rows flagged`);
  assert.equal(await eventually('sum(seldon_metric_outlier_is_outlier_total)', (v) => v === flaggedNormal), flaggedNormal);
  const far = [[9, 0.5, 1, 4], [2, 6, 8, 0.1], [12, 1, 9, 5], [0.5, 0.5, 7, 3], [9, 5, 0.2, 3]];
  for (const row of far) assert.equal((await postJson(`${model.url}/v2/models/iris/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: row }] })).status, 200);
  await delivered(70);
  assert.equal(await scrapeSum(`${outlierDet.url}v1/metrics`, 'seldon_metric_outlier_is_outlier_total'), flaggedNormal + 5);
  assert.equal(await eventually('sum(seldon_metric_outlier_is_outlier_total)', (v) => v === flaggedNormal + 5), flaggedNormal + 5);
  const methods = await prom.labelValues('method', 'seldon_metric_outlier_is_outlier_total');
  assert.deepEqual(methods, ['io.seldon.serving.inference.outlier']);
});

test('drift in a graph node\'s logged requests shows in the drift detector metrics in Prometheus', { timeout: 300_000 }, async () => {
  const same = iris.filter((_, i) => i % 5 === 1).slice(0, 30);
  const url = `${graph.url}/api/v1.0/predictions`;
  for (let i = 0; i < 30; i += 10) assert.equal((await postJson(url, { data: { ndarray: same.slice(i, i + 10) } })).status, 200);
  await eventually('sum(seldon_metric_drift_is_drift)', (v) => v === 0);
  assert.equal(await eventually('count(seldon_metric_drift_p_val)', (v) => v === 4), 4);
  const shifted = same.map((r) => [r[0] + 1.5, r[1], r[2] + 2, r[3]]);
  for (let i = 0; i < 30; i += 10) assert.equal((await postJson(url, { data: { ndarray: shifted.slice(i, i + 10) } })).status, 200);
  assert.equal(await eventually('sum(seldon_metric_drift_counter_total)', (v) => v === 1), 1);
  assert.equal(await eventually('sum(seldon_metric_drift_is_drift)', (v) => v === 1), 1);
});

test('a detector that is down costs the model nothing: predictions answer as before', { timeout: 120_000 }, async () => {
  await outlierDet.stop();
  const body = { data: { ndarray: [iris[0]] } };
  const before = await (await postJson(`${model.url}/api/v1.0/predictions`, body)).json;
  for (let i = 0; i < 20; i++) {
    const r = await postJson(`${model.url}/api/v1.0/predictions`, body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data, before.data);
  }
  // The logger counts its failures instead of failing the request.
  const deadline = Date.now() + 60_000;
  while ((await scrapeSum(`${model.metricsUrl}/metrics`, 'modelfleet_logger_events_failed_total')) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.ok((await scrapeSum(`${model.metricsUrl}/metrics`, 'modelfleet_logger_events_failed_total')) > 0);
});
