// The container suite: every image built with real podman from deploy/docker/Dockerfile (base images made once with
// debootstrap and cached in the podman store, since no registry is reachable here), then real containers:
// MODEL_URI=s3://... against the tests' S3 server (s3rver) and a file mount, predictions equal to what scikit-learn,
// XGBoost, torch (ONNX export) and the MLflow flavours compute; non-root; `podman stop` drains and exits 0 with no
// zombie; storage-init filling a volume a server then serves; `modelfleet build` on a class folder; the docker CLI
// against podman's socket; the detector image (alibi-detect-server's arguments) answering what the same detector
// answers out of a container. When podman cannot run, the suite fails saying so: it never passes silently.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { CloudEvent, HTTP } from 'cloudevents';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, cpSync, chmodSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose, IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { onnxModels } from './helpers/onnx-models.js';
import { mlflowModels } from './helpers/mlflow-models.js';
import { python, pythonJson } from './helpers/python.js';
import { startS3, S3RVER_KEY, S3RVER_SECRET, type S3Fixture } from './helpers/s3.js';
import { CLI, postJson, REPO, spawnServer, waitReady } from './helpers/server.js';
import { freePort, podman, podmanEnv, podmanOk, run, waitHttp200 } from './helpers/podman.js';

const VERSION = JSON.parse(readFileSync(`${REPO}shared/package.json`, 'utf8')).version as string;
const IMAGES = ['xgboostserver', 'storage-init', 'tensorflowserver', 'sklearnserver', 'mlflowserver', 'python', 'detector'];
const image = (name: string) => `modelfleet/${name}:${VERSION}`;
const tag = `${process.pid}`;
const containers: string[] = [];
const volumes: string[] = [];
const images: string[] = [];
const timings: Record<string, string> = {};
let s3: S3Fixture;
let xgb: { dir: string; rows: number[][]; predict: number[][] };

const s3Env = () => ['-e', `AWS_ACCESS_KEY_ID=${S3RVER_KEY}`, '-e', `AWS_SECRET_ACCESS_KEY=${S3RVER_SECRET}`, '-e', `AWS_ENDPOINT_URL=${s3.endpoint}`, '-e', 'AWS_REGION=us-east-1'];

const XGB_TRAIN = `
import json, os, sys
import numpy as np, xgboost as xgb
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
clf = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, y)
d = sys.argv[1]; clf.get_booster().save_model(os.path.join(d, 'model.json'))
os.makedirs(os.path.join(d, 'legacy')); clf.get_booster().save_model(os.path.join(d, 'legacy', 'model.bst'))
rows = X[[0, 60, 120]]
print(json.dumps({'dir': d, 'rows': rows.tolist(), 'predict': clf.get_booster().predict(xgb.DMatrix(rows)).tolist()}))
`;

/** Runs a server container on the host network with its ports on free loopback ports; resolves once ready. */
async function serve(img: string, args: string[], opts: { name?: string; readyPath?: string } = {}) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const name = opts.name ?? `mf-test-${tag}-${containers.length}`;
  containers.push(name);
  const started = Date.now();
  await podmanOk(['run', '-d', '--name', name, '--network', 'host',
    '-e', `PREDICTIVE_UNIT_HTTP_SERVICE_PORT=${http}`, '-e', `PREDICTIVE_UNIT_GRPC_SERVICE_PORT=${grpc}`,
    '-e', `PREDICTIVE_UNIT_METRICS_SERVICE_PORT=${metrics}`, '-e', 'MODELFLEET_HOST=127.0.0.1', '-e', 'MODELFLEET_WORKERS=1',
    ...args, img]);
  const url = `http://127.0.0.1:${http}`;
  await waitHttp200(`${url}${opts.readyPath ?? '/v2/health/ready'}`, 180_000, () => logs(name));
  return { name, url, startToReadyMs: Date.now() - started };
}

async function logs(name: string): Promise<string> {
  const r = await podman(['logs', name]);
  return `${r.stdout}${r.stderr}`;
}

/** Process states inside a container, from /proc (the images have no ps). */
async function processStates(name: string): Promise<string[]> {
  const out = await podmanOk(['exec', name, 'sh', '-c', 'for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null; echo; done']);
  return out.split('\n').filter(Boolean).map((l) => l.slice(l.lastIndexOf(')') + 2).split(' ')[0]);
}

/** `podman stop` with Seldon's 20 s grace: the server must drain and exit 0 itself (137 would be the SIGKILL). */
async function stopCleanly(name: string): Promise<void> {
  const t0 = Date.now();
  await podmanOk(['stop', '-t', '20', name], 60_000);
  const stoppedInMs = Date.now() - t0;
  const code = await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name]);
  assert.equal(code, '0', `exit code after podman stop (${stoppedInMs} ms):\n${await logs(name)}`);
}

before(async () => {
  const info = await podman(['info', '--format', '{{.Host.OCIRuntime.Name}}'], 120_000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  if (info.code !== 0) {
    throw new Error(`podman cannot run here, so the container suite cannot run (install it with scripts/setup.sh --dev): ${info.stderr.trim()}`);
  }
  const t0 = Date.now();
  const build = await run('bash', [`${REPO}deploy/scripts/build-images.sh`, ...IMAGES], { env: { LOCAL_BASE: '1' }, timeoutMs: 55 * 60_000 });
  if (build.code !== 0) throw new Error(`building the images failed:\n${build.stderr.slice(-6000)}`);
  timings.build = `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  for (const l of build.stderr.split('\n').filter((l) => / built in \d+ s$/.test(l))) timings[l.split(' ')[0]] = l;
  s3 = await startS3(['models']);
  const { paths } = await sklearnModels();
  await s3.put('models', 'sklearn/iris/model.joblib', readFileSync(path.join(paths.iris, 'model.joblib')));
  xgb = await pythonJson(XGB_TRAIN, ['xgboost', 'sklearn'], [mkdtempSync(path.join(os.tmpdir(), 'mf-xgb-'))]);
  chmodSync(xgb.dir, 0o755);
  await s3.put('models', 'xgboost/iris/model.json', readFileSync(path.join(xgb.dir, 'model.json')));
  const onnx = await onnxModels();
  await s3.put('models', 'onnx/mlp/model.onnx', readFileSync(path.join(onnx.paths.mlp, 'model.onnx')));
  const mlflow = await mlflowModels();
  for (const f of readdirSync(mlflow.dirs.iris)) await s3.put('models', `mlflow/iris/${f}`, readFileSync(path.join(mlflow.dirs.iris, f)));
}, { timeout: 60 * 60_000 });

after(async () => {
  for (const c of containers) await podman(['rm', '-f', '-t', '0', c]);
  for (const v of volumes) await podman(['volume', 'rm', '-f', v]);
  for (const i of images) await podman(['rmi', '-f', i]);
  await s3?.close();
  console.log(`# container suite timings: ${JSON.stringify(timings)}`);
});

test('images: version tags and OCI labels equal the package version, non-root user, tini then node as the entrypoint, sizes', async () => {
  const sizes: Record<string, number> = {};
  for (const name of IMAGES) {
    const [inspect] = JSON.parse(await podmanOk(['image', 'inspect', image(name)]));
    assert.equal(inspect.Config.Labels['org.opencontainers.image.version'], VERSION, name);
    assert.match(inspect.Config.Labels['org.opencontainers.image.title'], new RegExp(name));
    assert.equal(inspect.Config.User, '8888', name);
    assert.deepEqual(inspect.Config.Entrypoint.slice(0, 3), ['/usr/bin/tini', '--', '/usr/local/bin/node'], name);
    // The detector listens where alibi-detect-server does (8080), and only there.
    const ports = Object.keys(inspect.Config.ExposedPorts ?? {}).sort();
    if (name === 'detector') assert.deepEqual(ports, ['8080/tcp'], name);
    else assert.ok(ports.includes('9000/tcp'), `${name} exposes 9000`);
    sizes[name] = Math.round(inspect.Size / 1e6);
  }
  timings.sizesMB = JSON.stringify(sizes);
  // The native-only XGBoost image has no Python and stays small; no image carries npm (the entrypoint is node).
  for (const native of ['xgboostserver', 'detector']) {
    assert.ok(sizes[native] < 250, `${native} is ${sizes[native]} MB`);
    const py = await podman(['run', '--rm', '--entrypoint', '/bin/ls', image(native), '/usr/bin/python3']);
    assert.notEqual(py.code, 0, `${native} has no python3`);
  }
  const npm = await podman(['run', '--rm', '--entrypoint', '/bin/ls', image('sklearnserver'), '/usr/local/bin/npm']);
  assert.notEqual(npm.code, 0, 'no npm in the images');
});

test('sklearnserver: MODEL_URI=s3://, Seldon and V2 predictions equal scikit-learn, uid 8888, podman stop exits 0 with no zombie', { timeout: 600_000 }, async () => {
  const { expected } = await sklearnModels();
  const c = await serve(image('sklearnserver'), [...s3Env(), '-e', 'MODEL_URI=s3://models/sklearn/iris']);
  timings.sklearnserverStartToReady = `${c.startToReadyMs} ms`;
  const seldon = await postJson(`${c.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
  assert.equal(seldon.status, 200, seldon.text);
  assertClose(seldon.json.data.ndarray, expected.iris.predict_proba);
  const v2 = await postJson(`${c.url}/v2/models/model/infer`, { inputs: [{ name: 'x', shape: [IRIS_ROWS.length, 4], datatype: 'FP64', data: IRIS_ROWS.flat() }] });
  assert.equal(v2.status, 200, v2.text);
  assert.deepEqual(v2.json.outputs[0].data, expected.iris.predict);
  assert.equal(await podmanOk(['exec', c.name, 'id', '-u']), '8888');
  const states = await processStates(c.name);
  assert.ok(!states.includes('Z'), `zombies: ${states.join(' ')}`);
  await stopCleanly(c.name);
});

test('xgboostserver: a file mount at /mnt/models on the default ports through -p, booster.predict on Seldon, labels on V2', { timeout: 600_000 }, async () => {
  const name = `mf-test-${tag}-xgb-mount`;
  containers.push(name);
  const started = Date.now();
  await podmanOk(['run', '-d', '--name', name, '-p', '127.0.0.1::9000', '-v', `${xgb.dir}:/mnt/models:ro`, image('xgboostserver')]);
  const port = (await podmanOk(['port', name, '9000/tcp'])).split(':').at(-1);
  const url = `http://127.0.0.1:${port}`;
  await waitHttp200(`${url}/v2/health/ready`, 180_000, () => logs(name));
  timings.xgboostserverStartToReady = `${Date.now() - started} ms`;
  const seldon = await postJson(`${url}/api/v1.0/predictions`, { data: { ndarray: xgb.rows } });
  assert.equal(seldon.status, 200, seldon.text);
  assertClose(seldon.json.data.ndarray, xgb.predict, 1e-6);
  const v2 = await postJson(`${url}/v2/models/model/infer`, { inputs: [{ name: 'x', shape: [3, 4], datatype: 'FP64', data: xgb.rows.flat() }] });
  assert.equal(v2.status, 200, v2.text);
  assert.deepEqual(v2.json.outputs[0].data, xgb.predict.map((p) => p.indexOf(Math.max(...p))));
  await stopCleanly(name);
});

test('xgboostserver: a legacy binary .bst model is a start-up error saying how to serve it (no Python in the image)', { timeout: 300_000 }, async () => {
  chmodSync(path.join(xgb.dir, 'legacy'), 0o755);
  const r = await podman(['run', '--rm', '-v', `${path.join(xgb.dir, 'legacy')}:/mnt/models:ro`, image('xgboostserver')], 180_000);
  assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  assert.match(`${r.stdout}${r.stderr}`, /This image has no Python: a legacy binary XGBoost model .*Re-save it as JSON/);
});

test('xgboostserver: MODEL_URI=s3:// too (native engine, no Python in the image)', { timeout: 600_000 }, async () => {
  const c = await serve(image('xgboostserver'), [...s3Env(), '-e', 'MODEL_URI=s3://models/xgboost/iris']);
  const seldon = await postJson(`${c.url}/api/v1.0/predictions`, { data: { ndarray: xgb.rows } });
  assert.equal(seldon.status, 200, seldon.text);
  assertClose(seldon.json.data.ndarray, xgb.predict, 1e-6);
  await stopCleanly(c.name);
});

test('tensorflowserver: an ONNX export from s3://, Seldon and V2 answers equal torch', { timeout: 600_000 }, async () => {
  const { expected } = await onnxModels();
  const c = await serve(image('tensorflowserver'), [...s3Env(), '-e', 'MODEL_URI=s3://models/onnx/mlp']);
  const seldon = await postJson(`${c.url}/api/v1.0/predictions`, { data: { ndarray: expected.mlp.rows } });
  assert.equal(seldon.status, 200, seldon.text);
  assertClose(seldon.json.data.ndarray, expected.mlp.scores, 1e-5);
  const rows = expected.mlp.rows;
  const v2 = await postJson(`${c.url}/v2/models/model/infer`, { inputs: [{ name: 'input', shape: [rows.length, rows[0].length], datatype: 'FP32', data: rows.flat() }] });
  assert.equal(v2.status, 200, v2.text);
  assertClose(v2.json.outputs[0].data, expected.mlp.scores.flat(), 1e-5);
  await stopCleanly(c.name);
});

test('mlflowserver: an MLflow folder from s3://, /invocations and Seldon answer what the model predicts', { timeout: 600_000 }, async () => {
  const { expected } = await mlflowModels();
  const c = await serve(image('mlflowserver'), [...s3Env(), '-e', 'MODEL_URI=s3://models/mlflow/iris']);
  const inv = await postJson(`${c.url}/invocations`, { dataframe_split: { columns: expected.iris.columns, data: expected.iris.rows } });
  assert.equal(inv.status, 200, inv.text);
  assert.deepEqual(inv.json.predictions, expected.iris.predict);
  const seldon = await postJson(`${c.url}/api/v1.0/predictions`, { data: { names: expected.iris.columns, ndarray: expected.iris.rows } });
  assert.equal(seldon.status, 200, seldon.text);
  assert.deepEqual(seldon.json.data.ndarray, expected.iris.predict);
  await stopCleanly(c.name);
});

test('storage-init image: <src-uri> <dest-dir> fills a volume that a sklearnserver container then serves', { timeout: 600_000 }, async () => {
  const { expected } = await sklearnModels();
  const volume = `mf-test-${tag}-models`;
  volumes.push(volume);
  await podmanOk(['volume', 'create', volume]);
  const init = await podman(['run', '--rm', '--network', 'host', '-v', `${volume}:/mnt/models`, ...s3Env(), image('storage-init'), 's3://models/sklearn/iris', '/mnt/models'], 300_000);
  assert.equal(init.code, 0, `${init.stdout}${init.stderr}`);
  const c = await serve(image('sklearnserver'), ['-v', `${volume}:/mnt/models:ro`]);
  const seldon = await postJson(`${c.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
  assert.equal(seldon.status, 200, seldon.text);
  assertClose(seldon.json.data.ndarray, expected.iris.predict_proba);
  await stopCleanly(c.name);
  const bad = await podman(['run', '--rm', '--network', 'host', ...s3Env(), image('storage-init'), 's3://models/no/such/model', '/mnt/models'], 300_000);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /storage-init: error: .*no\/such\/model/);
});

/** `modelfleet detector serve` out of a container, on a free port; resolves with its URL once it listens. */
function detectorOnHost(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [CLI, 'detector', 'serve', '--http_port', '0', ...args], { env: { ...process.env, MODELFLEET_HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}/`, stop: async () => (proc.exitCode === null && proc.kill('SIGTERM'), exited) });
    });
    proc.once('exit', (c) => reject(new Error(`detector exited ${c}:\n${out}`)));
  });
}

test('detector image: a Mahalanobis detector fitted by modelfleet detector fit, from s3://, answers a Seldon payload and a CloudEvent as it does out of a container, replies with a CloudEvent, podman stop exits 0', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-detector-'));
  const csv = await python('from sklearn.datasets import load_iris\nfor r in load_iris().data: print(",".join(repr(float(v)) for v in r))');
  writeFileSync(path.join(dir, 'iris.csv'), csv);
  const fitted = path.join(dir, 'maha');
  await promisify(execFile)(process.execPath, [CLI, 'detector', 'fit', '--type', 'Mahalanobis', '--data', path.join(dir, 'iris.csv'), '--out', fitted, '--threshold-perc', '99']);
  for (const f of readdirSync(fitted)) await s3.put('models', `detect/maha/${f}`, readFileSync(path.join(fitted, f)));

  // The container sends each result on to REPLY_URL as a CloudEvent: a plain HTTP sink in the test receives them.
  const replies: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const sink = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => (replies.push({ headers: req.headers, body }), res.end()));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const replyUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;

  const host = await detectorOnHost(['--storage_uri', fitted, '--protocol', 'seldon.http', 'OutlierDetector']);
  const port = await freePort();
  const name = `mf-test-${tag}-detector`;
  containers.push(name);
  try {
    // alibi-detect-server's arguments after the image, its environment variables for the rest.
    await podmanOk(['run', '-d', '--name', name, '--network', 'host', ...s3Env(), '-e', `HTTP_PORT=${port}`, '-e', 'MODELFLEET_HOST=127.0.0.1',
      '-e', `REPLY_URL=${replyUrl}`, image('detector'),
      '--storage_uri', 's3://models/detect/maha', '--protocol', 'seldon.http', '--model_name', 'iris',
      '--event_type', 'io.seldon.serving.inference.outlier', '--event_source', 'io.seldon.serving.iris-outlier', 'OutlierDetector']);
    const url = `http://127.0.0.1:${port}/`;
    await waitHttp200(`${url}health/ping`, 180_000, () => logs(name));
    assert.equal(await podmanOk(['exec', name, 'id', '-u']), '8888');

    // Three iris flowers and one far from every flower.
    const iris = csv.trim().split('\n').map((l) => l.split(',').map(Number));
    const rows = [iris[0], iris[60], iris[120], [9, 0.5, 1, 4]];
    const payload = { data: { ndarray: rows } };
    const headers = { 'Content-Type': 'application/json', 'Alibi-Detect-Return-Instance-Score': 'true' };
    const ask = async (base: string, h: Record<string, string>, body: string) => {
      const r = await fetch(base, { method: 'POST', headers: h, body, signal: AbortSignal.timeout(60_000) });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      return JSON.parse(text);
    };
    const inContainer = await ask(url, headers, JSON.stringify(payload));
    assert.deepEqual(inContainer, await ask(host.url, headers, JSON.stringify(payload)));
    assert.deepEqual(inContainer.data.is_outlier, [0, 0, 0, 1], JSON.stringify(inContainer));
    assert.equal(inContainer.data.instance_score.length, 4);

    // The same payload as the Seldon request logger sends it: a binary-mode CloudEvent made by the official package.
    const event = new CloudEvent({ type: 'io.seldon.serving.inference.request', source: 'http://localhost:8000/', data: payload, datacontenttype: 'application/json' });
    const msg = HTTP.binary(event);
    const ceHeaders = { ...(msg.headers as Record<string, string>), 'Alibi-Detect-Return-Instance-Score': 'true' };
    // Mahalanobis updates its running mean and covariance with every batch (as alibi-detect's does): both detectors
    // have now seen the same batches, so they still agree.
    const ceReply = await ask(url, ceHeaders, msg.body as string);
    assert.deepEqual(ceReply, await ask(host.url, ceHeaders, msg.body as string));
    assert.deepEqual(ceReply.data.is_outlier, [0, 0, 0, 1], JSON.stringify(ceReply));

    // Each result went on to REPLY_URL as a CloudEvent with the image's event type and source; the logger's id kept.
    assert.equal(replies.length, 2, JSON.stringify(replies));
    const sent = HTTP.toEvent({ headers: replies[1].headers as Record<string, string>, body: replies[1].body }) as CloudEvent<unknown>;
    assert.equal(sent.type, 'io.seldon.serving.inference.outlier');
    assert.equal(sent.source, 'io.seldon.serving.iris-outlier');
    assert.equal(sent.id, event.id);
    assert.deepEqual(sent.data, ceReply);
    await stopCleanly(name);
  } finally {
    await host.stop();
    sink.close();
  }
});

const MODEL_PY = `import numpy as np

class Model:
    def __init__(self, scale=2):
        self.scale = float(scale)

    def predict(self, X, features_names=None):
        return np.asarray(X, dtype=float) * self.scale
`;

test('modelfleet build: a class folder with .s2i/environment becomes an image that answers; uninstallable requirements are a build error naming them', { timeout: 1_200_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-class-'));
  writeFileSync(path.join(dir, 'Doubler.py'), MODEL_PY.replace('class Model', 'class Doubler'));
  mkdirSync(path.join(dir, '.s2i'));
  writeFileSync(path.join(dir, '.s2i', 'environment'), 'MODEL_NAME=Doubler\nSERVICE_TYPE=MODEL\nAPI_TYPE=REST\nPERSISTENCE=0\n');
  const built = `localhost/mf-test-class-${tag}:0.1`;
  images.push(built);
  const env = { ...(await podmanEnv()), MODELFLEET_CONTAINER_ENGINE: 'podman', MODELFLEET_PYTHON_IMAGE: image('python') };
  const b = await run(process.execPath, [CLI, 'build', dir, '--image', built], { env, timeoutMs: 900_000 });
  assert.equal(b.code, 0, b.stderr.slice(-3000));
  assert.match(b.stderr, new RegExp(`${built.replace(/[.:/]/g, '\\$&')} built with podman`));
  const c = await serve(built, ['-e', 'PREDICTIVE_UNIT_PARAMETERS=[{"name":"scale","value":"3","type":"FLOAT"}]']);
  const r = await postJson(`${c.url}/api/v1.0/predictions`, { data: { ndarray: [[1, 2], [3, 4]] } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.ndarray, [[3, 6], [9, 12]]);
  assert.equal(await podmanOk(['exec', c.name, 'printenv', 'MODEL_NAME']), 'Doubler');
  await stopCleanly(c.name);

  // PyPI is not reachable here: a requirement cannot be installed, and the error names it.
  const bad = mkdtempSync(path.join(os.tmpdir(), 'mf-class-'));
  cpSync(dir, bad, { recursive: true });
  writeFileSync(path.join(bad, 'requirements.txt'), '# pinned\nmodelfleet-no-such-package==0.0.1\n');
  const badImage = `localhost/mf-test-class-bad-${tag}:0.1`;
  images.push(badImage);
  const f = await run(process.execPath, [CLI, 'build', bad, '--image', badImage], { env, timeoutMs: 900_000 });
  assert.equal(f.code, 1, f.stderr.slice(-3000));
  assert.match(f.stderr, /modelfleet build: error: .*could not install requirements\.txt: modelfleet-no-such-package==0\.0\.1/);

  // s2i's contract is checked before any engine runs.
  writeFileSync(path.join(bad, '.s2i', 'environment'), 'MODEL_NAME=Missing\n');
  const m = await run(process.execPath, [CLI, 'build', bad, '--image', badImage], { env });
  assert.equal(m.code, 2);
  assert.match(m.stderr, /MODEL_NAME=Missing but Missing\.py is not there/);
});

test('modelfleet build: a clear error when neither docker nor podman can run', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-class-'));
  writeFileSync(path.join(dir, 'Model.py'), MODEL_PY);
  // A PATH holding only node: no docker, no podman.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'mf-bin-'));
  symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = await run(process.execPath, [CLI, 'build', dir, '--image', 'x:1'], { env: { PATH: bin } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /neither docker nor podman can build here \(docker: not installed; podman: not installed\)/);
});

test('the docker CLI against podman\'s API socket runs an image (once)', { timeout: 600_000 }, async (t) => {
  const which = await run('bash', ['-c', 'command -v docker']);
  assert.equal(which.code, 0, 'the docker client is needed for this test');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-sock-'));
  const sock = path.join(dir, 'podman.sock');
  const service: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${sock}`], { env: { ...process.env, ...(await podmanEnv()) }, stdio: 'ignore' });
  t.after(() => {
    service.kill('SIGTERM');
  });
  const docker = (args: string[]) => run('docker', args, { env: { DOCKER_HOST: `unix://${sock}` }, timeoutMs: 300_000 });
  for (let i = 0; i < 100 && (await docker(['version'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
  const http = await freePort();
  const name = `mf-test-${tag}-docker`;
  containers.push(name);
  const r = await docker(['run', '-d', '--name', name, '--network', 'host', '-e', `PREDICTIVE_UNIT_HTTP_SERVICE_PORT=${http}`,
    '-e', `PREDICTIVE_UNIT_GRPC_SERVICE_PORT=${await freePort()}`, '-e', `PREDICTIVE_UNIT_METRICS_SERVICE_PORT=${await freePort()}`,
    '-e', 'MODELFLEET_HOST=127.0.0.1', '-v', `${xgb.dir}:/mnt/models:ro`, image('xgboostserver')]);
  assert.equal(r.code, 0, r.stderr);
  const url = `http://127.0.0.1:${http}`;
  await waitHttp200(`${url}/v2/health/ready`, 180_000, () => logs(name));
  const seldon = await postJson(`${url}/api/v1.0/predictions`, { data: { ndarray: xgb.rows } });
  assertClose(seldon.json.data.ndarray, xgb.predict, 1e-6);
  const stop = await docker(['stop', '-t', '20', name]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await docker(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim(), '0');
});

test('start to ready: the same models served without a container (for the README comparison)', { timeout: 300_000 }, async () => {
  const { paths } = await sklearnModels();
  for (const [what, main, uri] of [['sklearnserver', 'sklearn', paths.iris], ['xgboostserver', 'xgboost', xgb.dir]]) {
    const t0 = Date.now();
    const server = await spawnServer([`${REPO}servers/${main}/dist/main.js`], { MODEL_URI: uri });
    try {
      await waitReady(server);
      timings[`${what}NoContainerStartToReady`] = `${Date.now() - t0} ms`;
    } finally {
      await server.stop();
    }
  }
});
