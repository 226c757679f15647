// The detector server as a real process (`modelfleet detector serve`, alibi-detect-server's arguments), fed with
// CloudEvents made by the official `cloudevents` package in binary mode with the Seldon logger's Ce-* extensions,
// and with plain Seldon / V2 bodies. Its replies to a reply URL are parsed back with the same package. Detectors
// are fitted by `modelfleet detector fit` from iris (shipped with sklearn) and loaded through storage-init.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { CLI } from './helpers/server.js';
import { python } from './helpers/python.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'detect-server-'));
let iris: number[][] = [];

interface Detector {
  url: string;
  proc: ChildProcess;
  logs: () => string;
  stop(): Promise<number | null>;
}

function serveDetector(args: string[], env: Record<string, string> = {}): Promise<Detector> {
  const proc = spawn(process.execPath, [CLI, 'detector', 'serve', '--http_port', '0', ...args], {
    env: { ...process.env, MODELFLEET_HOST: '127.0.0.1', MODELFLEET_CACHE_DIR: path.join(dir, 'cache'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`detector did not bind:\n${out}`)), 60_000);
    proc.stderr!.on('data', () => {
      const m = /listening on (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ url: `http://127.0.0.1:${m[1]}`, proc, logs: () => out, stop: async () => (proc.exitCode === null && proc.kill('SIGTERM'), exited) });
    });
    exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`detector exited ${c}:\n${out}`));
    });
  });
}

/** A reply sink: records every POST. */
async function sink(status = 200) {
  const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function seldonEvent(rows: number[][], ext: Record<string, string> = {}, type = 'io.seldon.serving.inference.request') {
  return HTTP.binary(
    new CloudEvent({
      type,
      source: 'http://localhost:8000/',
      datacontenttype: 'application/json',
      data: { data: { ndarray: rows } },
      requestid: 'puid-1',
      modelid: 'iris',
      inferenceservicename: 'iris',
      namespace: 'default',
      endpoint: 'default',
      protocol: 'seldon',
      ...ext,
    }),
  );
}

const post = async (url: string, headers: Record<string, string>, body: string) => {
  const r = await fetch(url, { method: 'POST', headers, body });
  const text = await r.text();
  return { status: r.status, text, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
};

before(async () => {
  const csv = await python(`
from sklearn.datasets import load_iris
print("sepal_length,sepal_width,petal_length,petal_width")
for r in load_iris().data: print(",".join(repr(float(v)) for v in r))
`);
  writeFileSync(path.join(dir, 'iris.csv'), csv);
  iris = csv.trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'Mahalanobis', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'maha'), '--threshold-perc', '99']);
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'KSDrift', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'ks')]);
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'IForest', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'iforest'), '--seed', '0']);
});

after(() => undefined);

test('outlier detector: CloudEvent in, alibi-detect JSON out, result forwarded as a CloudEvent with the incoming id and extensions, metrics', { timeout: 180_000 }, async () => {
  const replies = await sink();
  const det = await serveDetector([
    '--storage_uri', `file://${path.join(dir, 'maha')}`, '--protocol', 'seldon.http', '--model_name', 'iris-outlier',
    '--reply_url', replies.url, '--event_type', 'io.seldon.serving.inference.outlier', '--event_source', 'io.seldon.serving.iris-outlier',
    'OutlierDetector',
  ]);
  try {
    const normal = iris[10], outlier = [9, 0.5, 1, 4];
    const msg = seldonEvent([normal, outlier]);
    const sentId = (msg.headers as Record<string, string>)['ce-id'];
    const r = await post(`${det.url}/`, { ...(msg.headers as Record<string, string>), 'Alibi-Detect-Return-Instance-Score': 'true' }, msg.body as string);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json!.data.is_outlier, [0, 1]);
    assert.equal(r.json!.data.instance_score.length, 2);
    assert.ok(r.json!.data.instance_score[1] > r.json!.data.instance_score[0]);
    assert.ok(!('feature_score' in r.json!.data), 'null keys are removed');
    assert.deepEqual({ ...r.json!.meta, version: undefined }, { name: 'Mahalanobis', detector_type: 'outlier', data_type: 'tabular', online: true, version: undefined });
    // Forwarded as a CloudEvent (binary mode), parsed back with the official package.
    assert.equal(replies.got.length, 1);
    const ev = HTTP.toEvent({ headers: replies.got[0].headers as Record<string, string>, body: replies.got[0].body }) as CloudEvent<unknown>;
    assert.equal(ev.id, sentId);
    assert.equal(ev.type, 'io.seldon.serving.inference.outlier');
    assert.equal(ev.source, 'io.seldon.serving.iris-outlier');
    assert.equal((ev as unknown as Record<string, unknown>).requestid, 'puid-1');
    assert.equal((ev as unknown as Record<string, unknown>).inferenceservicename, 'iris');
    assert.equal((ev as unknown as Record<string, unknown>).modelid, 'iris');
    assert.deepEqual(typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data, r.json);

    // Without the header, no instance_score (alibi-detect-server's default).
    const quiet = await post(`${det.url}/`, msg.headers as Record<string, string>, msg.body as string);
    assert.deepEqual(Object.keys(quiet.json!.data), ['is_outlier']);

    // A plain V2 request (no CloudEvent) is scored too; the forwarded event gets a new id.
    const v2 = await post(`${det.url}/`, { 'Content-Type': 'application/json' }, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: outlier }] }));
    assert.equal(v2.status, 200, v2.text);
    assert.deepEqual(v2.json!.data.is_outlier, [1]);
    assert.match(replies.got[2].headers['ce-id'] as string, /^[0-9a-f]{32}$/);

    // Structured mode (the whole event as JSON) works the same.
    const structured = HTTP.structured(new CloudEvent({ type: 'io.seldon.serving.inference.request', source: 'test', datacontenttype: 'application/json', data: { data: { tensor: { shape: [1, 4], values: outlier } } } }));
    const st = await post(`${det.url}/`, structured.headers as Record<string, string>, structured.body as string);
    assert.equal(st.status, 200, st.text);
    assert.deepEqual(st.json!.data.is_outlier, [1]);

    // The logger's response events (mode all) are acknowledged and not scored.
    const resp = seldonEvent([[0.9, 0.1, 0]], {}, 'io.seldon.serving.inference.response');
    const rr = await post(`${det.url}/`, resp.headers as Record<string, string>, resp.body as string);
    assert.equal(rr.status, 200);
    assert.equal(rr.text, '');
    assert.equal(replies.got.length, 4);

    // Bad input: clear 400s.
    for (const [body, re] of [
      ['not json', /not JSON/],
      [JSON.stringify({ data: { ndarray: [[1, 2, 3]] } }), /expected 4 features/],
      [JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['a'] }] }), /BYTES/],
      [JSON.stringify({ data: { ndarray: [[1, 2, 'a', 4]] } }), /./],
    ] as const) {
      const b = await post(`${det.url}/`, { 'Content-Type': 'application/json' }, body);
      assert.equal(b.status, 400, `${body}: ${b.text}`);
      assert.match(b.json!.error, re);
    }
    const badCe = await post(`${det.url}/`, { 'ce-specversion': '1.0', 'content-type': 'application/json' }, '{}');
    assert.equal(badCe.status, 400);

    assert.equal(await (await fetch(`${det.url}/protocol`)).text(), 'seldon.http');
    const metrics = await (await fetch(`${det.url}/v1/metrics`)).text();
    const labels = 'method="io.seldon.serving.inference.outlier",seldon_deployment_namespace="NOT_IMPLEMENTED"';
    assert.match(metrics, new RegExp(`seldon_metric_outlier_is_outlier_total\\{${labels},index="1"\\} 2\\b`));
    assert.match(metrics, new RegExp(`seldon_metric_outlier_is_outlier_total\\{${labels},index="0"\\} 2\\b`));
    assert.match(metrics, new RegExp(`seldon_metric_outlier_instance_score\\{${labels},index="1"\\} \\d`));
  } finally {
    assert.equal(await det.stop(), 0);
    await replies.close();
  }
});

test('a reply URL that fails makes the request fail (502), as in alibi-detect-server', { timeout: 120_000 }, async () => {
  const replies = await sink(500);
  const det = await serveDetector(['--storage_uri', path.join(dir, 'iforest'), '--reply_url', replies.url, '--event_type', 't', '--event_source', 's', 'OutlierDetector'], { ALIBI_DETECT_RETURN_INSTANCE_SCORE: 'true' });
  try {
    const r = await post(`${det.url}/`, { 'Content-Type': 'application/json' }, JSON.stringify({ instances: [iris[0], [20, 20, 20, 20]] }));
    assert.equal(r.status, 502, r.text);
    assert.match(r.json!.error, /answered 500/);
  } finally {
    await det.stop();
    await replies.close();
  }
});

test('IForest detector fitted by the CLI (sklearn in Python) flags far-away rows; tensorflow.http instances', { timeout: 120_000 }, async () => {
  const det = await serveDetector(['--storage_uri', path.join(dir, 'iforest'), 'OutlierDetector'], { ALIBI_DETECT_RETURN_INSTANCE_SCORE: 'true' });
  try {
    const r = await post(`${det.url}/`, { 'Content-Type': 'application/json' }, JSON.stringify({ instances: [iris[0], [20, 20, 20, 20]] }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json!.data.is_outlier, [0, 1]);
    assert.equal(r.json!.meta.name, 'IForest');
    assert.equal(r.json!.meta.online, false);
  } finally {
    await det.stop();
  }
});

test('drift detector loaded over http:// by storage-init: rows buffer until drift_batch_size, then a drift result; metrics', { timeout: 180_000 }, async () => {
  const file = readFileSync(path.join(dir, 'ks', 'detector.json'));
  const store = http.createServer((req, res) => (req.url === '/ks/detector.json' ? res.writeHead(200, { 'Content-Length': file.length }).end(file) : res.writeHead(404).end()));
  await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
  const storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}/ks/detector.json`;
  const det = await serveDetector(['--storage_uri', storeUrl, '--protocol', 'v2', '--event_type', 'io.seldon.serving.inference.drift', 'DriftDetector', '--drift_batch_size', '40'], { SELDON_DEPLOYMENT_NAMESPACE: 'ns1' });
  const v2event = (rows: number[][]) =>
    HTTP.binary(new CloudEvent({
      type: 'org.kubeflow.serving.inference.request', source: 'http://localhost:9081/', datacontenttype: 'application/json',
      data: { inputs: [{ name: 'input-0', shape: [rows.length, 4], datatype: 'FP64', data: rows.flat() }] },
      inferenceservicename: 'iris', namespace: 'ns1', endpoint: 'default',
    }));
  try {
    // Every 3rd iris row: same distribution as the reference.
    const same = iris.filter((_, i) => i % 3 === 0).slice(0, 40);
    const first = v2event(same.slice(0, 20));
    const r1 = await post(`${det.url}/`, first.headers as Record<string, string>, first.body as string);
    assert.equal(r1.status, 200);
    assert.equal(r1.text, '', 'below the batch size: empty body');
    const second = v2event(same.slice(20));
    const r2 = await post(`${det.url}/`, second.headers as Record<string, string>, second.body as string);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json!.data.is_drift, 0);
    assert.equal(r2.json!.data.p_val.length, 4);
    assert.equal(r2.json!.data.threshold, 0.05 / 4);
    assert.equal(r2.json!.meta.name, 'KSDrift');
    // Shifted petal length: drift.
    const shifted = same.map((r) => [r[0], r[1], r[2] + 2, r[3]]);
    const s = v2event(shifted);
    const r3 = await post(`${det.url}/`, s.headers as Record<string, string>, s.body as string);
    assert.equal(r3.json!.data.is_drift, 1);
    assert.ok(r3.json!.data.p_val[2] < 1e-3, `p-value of the shifted feature ${r3.json!.data.p_val[2]}`);
    const metrics = await (await fetch(`${det.url}/v1/metrics`)).text();
    const labels = 'method="io.seldon.serving.inference.drift",seldon_deployment_namespace="ns1"';
    assert.match(metrics, new RegExp(`seldon_metric_drift_counter_total\\{${labels},index="0"\\} 1\\b`));
    assert.match(metrics, new RegExp(`seldon_metric_drift_is_drift\\{${labels},index="0"\\} 1\\b`));
    assert.match(metrics, new RegExp(`seldon_metric_drift_p_val\\{${labels},index="3"\\} `));
    assert.match(metrics, new RegExp(`seldon_metric_drift_distance\\{${labels},index="2"\\} 0\\.\\d`));
  } finally {
    await det.stop();
    await new Promise<void>((r) => store.close(() => r()));
  }
});

test('serve refuses a missing detector (exit 1) and a detector of the other kind (exit 2)', { timeout: 60_000 }, async () => {
  await assert.rejects(serveDetector(['--storage_uri', path.join(dir, 'nothing-here'), 'OutlierDetector']), /exited 1/);
  await assert.rejects(serveDetector(['--storage_uri', path.join(dir, 'ks'), 'OutlierDetector']), /exited 2[\s\S]*KSDrift/);
});

test('detector fit reads NumPy .npy (float32, int64) and a TabularDrift categories spec; bad flags exit 2 with a reason', { timeout: 120_000 }, async () => {
  await python(`
import numpy as np, sys
from sklearn.datasets import load_iris
X = load_iris().data
np.save(sys.argv[1] + '/iris32.npy', X.astype(np.float32))
np.save(sys.argv[1] + '/cats.npy', np.column_stack([np.round(X[:, 0]), (X[:, 3] > 1).astype(int)]).astype(np.int64))
`, ['sklearn'], [dir]);
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'TabularDrift', '--data', path.join(dir, 'iris32.npy'), '--out', path.join(dir, 'tab'), '--categories-per-feature', '{"3": null}', '--correction', 'fdr']);
  const saved = JSON.parse(readFileSync(path.join(dir, 'tab', 'detector.json'), 'utf8'));
  assert.equal(saved.name, 'TabularDrift');
  assert.deepEqual(saved.params.categories_per_feature, { 3: null });
  assert.equal(saved.params.correction, 'fdr');
  assert.deepEqual(saved.state.x_ref.shape, [150, 4]);
  // float32 values arrive exactly as numpy stored them.
  const x = Buffer.from(saved.state.x_ref.b64, 'base64');
  assert.equal(x.readDoubleLE(0), Math.fround(iris[0][0]));
  await run(process.execPath, [CLI, 'detector', 'fit', '--type', 'ChiSquareDrift', '--data', path.join(dir, 'cats.npy'), '--out', path.join(dir, 'chi')]);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(path.join(dir, 'chi', 'detector.json'), 'utf8')).params.categories_per_feature), ['0', '1']);
  await assert.rejects(run(process.execPath, [CLI, 'detector', 'fit', '--type', 'KSDrift', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'x'), '--correction', 'holm']), (e: { code: number; stderr: string }) => e.code === 2 && /bonferroni or fdr/.test(e.stderr));
  await assert.rejects(run(process.execPath, [CLI, 'detector', 'fit', '--type', 'Nope', '--data', path.join(dir, 'iris.csv'), '--out', path.join(dir, 'x')]), /unknown detector type/);
});
