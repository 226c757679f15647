// Many models in one server: `modelfleet start <repo>` on a folder laid out as MLServer's (model-settings.json per
// model, settings.json at the root) holding four models on four engines (sklearn native, sklearn Python-only,
// XGBoost, ONNX), a folder with an unsupported implementation and one whose model file is corrupt. Answers are
// compared with what scikit-learn, xgboost and torch compute; the repository API is driven over REST and over gRPC
// with Python's grpcio (stubs compiled from our .proto files at test time).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPython } from '@modelfleet/shared/python/interpreter';
import { assertClose } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, postJson, REPO, runToExit, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';
import { runPythonClient } from './helpers/grpc-python.js';

const run = promisify(execFile);

interface Trained {
  rows: number[][];
  iris_proba: number[][];
  knn_proba: number[][];
  xgb_proba: number[][];
  mlp_rows: number[][];
  mlp_scores: number[][];
}

const TRAIN = `
import json, os, sys
import joblib, numpy as np, torch, xgboost as xgb
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
root = sys.argv[1]
def folder(name):
    d = os.path.join(root, name); os.makedirs(d, exist_ok=True); return d
def settings(name, body):
    with open(os.path.join(folder(name), 'model-settings.json'), 'w') as f: json.dump(body, f)
X, y = load_iris(return_X_y=True)
rows = X[::15][:8]
lr = LogisticRegression(max_iter=1000).fit(X, y)
joblib.dump(lr, os.path.join(folder('iris-native'), 'model.joblib'))
settings('iris-native', {'name': 'iris-native', 'implementation': 'mlserver_sklearn.SKLearnModel'})
knn = KNeighborsClassifier(n_neighbors=7).fit(X, y)  # no native export: served by scikit-learn itself
joblib.dump(knn, os.path.join(folder('iris-python'), 'model.joblib'))
settings('iris-python', {'name': 'iris-python', 'implementation': 'mlserver_sklearn.SKLearnModel', 'parameters': {'uri': './model.joblib'}})
xg = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
xg.save_model(os.path.join(folder('xgb'), 'model.json'))
settings('xgb', {'name': 'xgb', 'implementation': 'mlserver_xgboost.XGBoostModel', 'parameters': {'version': 'v1'}})
torch.manual_seed(3)
mlp = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
mlp_rows = np.random.default_rng(3).normal(size=(6, 6)).astype(np.float32)
# no model-settings.json: a bare folder with an .onnx file is a model named after the folder
torch.onnx.export(mlp, torch.from_numpy(mlp_rows), os.path.join(folder('mlp'), 'model.onnx'), input_names=['features'],
                  output_names=['scores'], dynamic_axes={'features': {0: 'batch'}, 'scores': {0: 'batch'}}, opset_version=13)
settings('lgbm', {'name': 'lgbm', 'implementation': 'mlserver_lightgbm.LightGBMModel'})
with open(os.path.join(folder('corrupt'), 'model.joblib'), 'wb') as f: f.write(b'not a pickle at all')
settings('corrupt', {'name': 'corrupt', 'implementation': 'mlserver_sklearn.SKLearnModel'})
with open(os.path.join(root, 'settings.json'), 'w') as f: json.dump({'debug': False, 'parallel_workers': 1, 'server_name': 'repo-test', 'kafka_enabled': False}, f)
with torch.no_grad():
    scores = mlp(torch.from_numpy(mlp_rows)).numpy()
json.dump({'rows': rows.tolist(), 'iris_proba': lr.predict_proba(rows).tolist(), 'knn_proba': knn.predict_proba(rows).tolist(),
           'xgb_proba': xg.predict_proba(rows).tolist(), 'mlp_rows': mlp_rows.tolist(), 'mlp_scores': scores.tolist()}, sys.stdout)
`;

/** grpcio client for the repository RPCs on both services, and ModelInfer by name. */
const GRPC_CLIENT = `
import json, sys
sys.path.insert(0, sys.argv[1])
import grpc
from google.protobuf import json_format
import grpc_service_pb2 as v2, grpc_service_pb2_grpc as v2g, model_repository_pb2 as mr, model_repository_pb2_grpc as mrg
channel = grpc.insecure_channel(sys.argv[2])
infer, repo = v2g.GRPCInferenceServiceStub(channel), mrg.ModelRepositoryServiceStub(channel)
out = {}
for step in json.load(sys.stdin):
    try:
        c = step['call']
        if c == 'index':
            res = infer.RepositoryIndex(v2.RepositoryIndexRequest(ready=step.get('ready', False)))
        elif c == 'mlserver_index':
            res = repo.RepositoryIndex(mr.RepositoryIndexRequest(ready=step.get('ready', False)))
        elif c == 'load':
            res = infer.RepositoryModelLoad(v2.RepositoryModelLoadRequest(model_name=step['name']))
        elif c == 'unload':
            res = infer.RepositoryModelUnload(v2.RepositoryModelUnloadRequest(model_name=step['name']))
        elif c == 'mlserver_load':
            res = repo.RepositoryModelLoad(mr.RepositoryModelLoadRequest(model_name=step['name']))
        elif c == 'mlserver_unload':
            res = repo.RepositoryModelUnload(mr.RepositoryModelUnloadRequest(model_name=step['name']))
        elif c == 'ready':
            res = infer.ModelReady(v2.ModelReadyRequest(name=step['name']))
        elif c == 'infer':
            res = infer.ModelInfer(json_format.ParseDict(step['request'], v2.ModelInferRequest()))
        out[step['id']] = json_format.MessageToDict(res, preserving_proto_field_name=True, including_default_value_fields=True)
    except grpc.RpcError as e:
        out[step['id']] = {'error': e.code().name, 'details': e.details()}
print(json.dumps(out))
`;

let stubs: Promise<{ python: string; dir: string }> | undefined;
async function grpcSteps(target: string, steps: Array<Record<string, unknown>>): Promise<Record<string, any>> {
  stubs ??= (async () => {
    const py = await findPython(['grpc', 'grpc_tools']);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repo-stubs-'));
    await run(py.bin, ['-m', 'grpc_tools.protoc', '-I', path.join(REPO, 'shared/proto'), `--python_out=${dir}`, `--grpc_python_out=${dir}`, 'grpc_service.proto', 'model_repository.proto']);
    return { python: py.bin, dir };
  })();
  const { python, dir } = await stubs;
  return runPythonClient(python, GRPC_CLIENT, dir, target, steps);
}

const v2Request = (rows: number[][], datatype = 'FP64', output?: string) => ({
  inputs: [{ name: 'input-0', shape: [rows.length, rows[0].length], datatype, data: rows.flat() }],
  ...(output ? { outputs: [{ name: output }] } : {}),
});

/** The nested rows of a flat V2 output. */
function nest(output: { shape: number[]; data: number[] }): number[][] {
  const [n, m] = output.shape;
  return Array.from({ length: n }, (_, i) => output.data.slice(i * m, (i + 1) * m));
}

let root: string;
let trained: Trained;
let server: ServerProcess;

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-repo-'));
  trained = await pythonJson<Trained>(TRAIN, ['sklearn', 'xgboost', 'torch', 'onnx'], [root]);
  server = await spawnServer([CLI, 'start', root]);
  await waitReady(server, 180_000);
});

after(async () => {
  assert.equal(await server?.stop(), 0, server?.logs());
});

const index = async () => (await postJson(`${server.url}/v2/repository/index`, {})).json as Array<{ name: string; version?: string; state: string; reason: string }>;

describe('a repository of four models started from MLServer-style settings', () => {
  test('the index lists the four models READY and the broken ones UNAVAILABLE with their reasons', async () => {
    const rows = await index();
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    for (const name of ['iris-native', 'iris-python', 'xgb', 'mlp']) assert.equal(byName[name]?.state, 'READY', JSON.stringify(rows));
    assert.equal(byName.xgb.version, 'v1');
    assert.equal(byName.lgbm.state, 'UNAVAILABLE');
    assert.match(byName.lgbm.reason, /mlserver_lightgbm\.LightGBMModel.*not supported.*mlserver_sklearn\.SKLearnModel.*mlserver_xgboost\.XGBoostModel/);
    assert.equal(byName.corrupt.state, 'UNAVAILABLE');
    assert.match(byName.corrupt.reason, /model\.joblib|pickle|load/i);
    const ready = (await postJson(`${server.url}/v2/repository/index`, { ready: true })).json as Array<{ name: string }>;
    assert.deepEqual(ready.map((r) => r.name).sort(), ['iris-native', 'iris-python', 'mlp', 'xgb']);
    assert.equal((await postJson(`${server.url}/v2/repository/index`, { ready: 'yes' })).status, 400);
    // settings.json: server_name is served, keys modelfleet does not use are named in the log
    assert.equal(((await (await fetch(`${server.url}/v2`)).json()) as { name: string }).name, 'repo-test');
    assert.match(server.logs(), /settings\.json: not used by modelfleet: kafka_enabled/);
  });

  test('each model answers V2 by name with what its own library computes, on the engine expected', async () => {
    const cases: Array<[string, string, number[][], number[][], string, number]> = [
      ['iris-native', 'predict_proba', trained.rows, trained.iris_proba, 'native', 1e-9],
      ['iris-python', 'predict_proba', trained.rows, trained.knn_proba, 'python', 0],
      ['xgb', 'predict_proba', trained.rows, trained.xgb_proba, 'native', 1e-6],
      ['mlp', 'scores', trained.mlp_rows, trained.mlp_scores, 'onnx', 1e-5],
    ];
    for (const [name, output, rows, expected, engine, rel] of cases) {
      const r = await postJson(`${server.url}/v2/models/${name}/infer`, v2Request(rows, name === 'mlp' ? 'FP32' : 'FP64', output));
      assert.equal(r.status, 200, `${name}: ${r.text}`);
      assert.equal(r.json.model_name, name);
      assertClose(nest(r.json.outputs[0]), expected, rel || 1e-12, name);
      const md = (await (await fetch(`${server.url}/v2/models/${name}`)).json()) as { name: string; platform: string; inputs: Array<{ name: string }>; parameters: { engine: string } };
      assert.equal(md.name, name);
      assert.equal(md.parameters.engine, engine, name);
      // Triton's model configuration describes the named model, not the server's first one.
      const config = (await (await fetch(`${server.url}/v2/models/${name}/config`)).json()) as { name: string; platform: string; input: Array<{ name: string }> };
      assert.deepEqual([config.name, config.platform, config.input.map((t) => t.name)], [name, md.platform, md.inputs.map((t) => t.name)]);
    }
    const versioned = await postJson(`${server.url}/v2/models/xgb/versions/v1/infer`, v2Request(trained.rows, 'FP64', 'predict_proba'));
    assert.equal(versioned.status, 200, versioned.text);
    assert.equal(versioned.json.model_version, 'v1');
    const wrongVersion = await postJson(`${server.url}/v2/models/xgb/versions/v9/infer`, v2Request(trained.rows));
    assert.equal(wrongVersion.status, 404);
    const unknown = await postJson(`${server.url}/v2/models/nope/infer`, v2Request(trained.rows));
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error, /nope not found/);
  });

  test('per-model readiness, KServe V1 and Seldon paths address models by name', async () => {
    for (const name of ['iris-native', 'mlp']) assert.equal((await fetch(`${server.url}/v2/models/${name}/ready`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/corrupt/ready`)).status, 503);
    assert.equal((await fetch(`${server.url}/v2/models/lgbm/ready`)).status, 404); // its settings never named a model we serve
    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { models: string[] };
    assert.deepEqual([...list.models].sort(), ['corrupt', 'iris-native', 'iris-python', 'mlp', 'xgb']);
    const v1 = await postJson(`${server.url}/v1/models/iris-python:predict`, { instances: trained.rows });
    assert.equal(v1.status, 200, v1.text);
    const labels = trained.knn_proba.map((p) => p.indexOf(Math.max(...p)));
    assert.deepEqual(v1.json.predictions, labels);
    const seldon = await postJson(`${server.url}/seldon/default/iris-native/api/v1.0/predictions`, { data: { ndarray: trained.rows } });
    assert.equal(seldon.status, 200, seldon.text);
    assertClose(seldon.json.data.ndarray, trained.iris_proba, 1e-9);
    const unnamed = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: trained.rows } });
    assert.equal(unnamed.status, 400);
    assert.match(unnamed.json.status.info, /serves 4 models|serves 5 models/);
    assert.match(unnamed.json.status.info, /\/v2\/models\/<name>\/infer/);
    const failed = await postJson(`${server.url}/v2/models/corrupt/infer`, v2Request(trained.rows));
    assert.equal(failed.status, 503);
    assert.match(failed.json.error, /corrupt failed to load/);
  });

  test('requests to one model keep succeeding, with zero errors, while others unload and load', async () => {
    let stop = false;
    const results = { ok: 0, errors: [] as string[] };
    const hammer = async (name: string, output: string, expected: number[][], rel: number) => {
      while (!stop) {
        try {
          const r = await postJson(`${server.url}/v2/models/${name}/infer`, v2Request(trained.rows, 'FP64', output));
          if (r.status !== 200) results.errors.push(`${name}: ${r.status} ${r.text}`);
          else {
            assertClose(nest(r.json.outputs[0]), expected, rel);
            results.ok++;
          }
        } catch (err) {
          results.errors.push(`${name}: ${(err as Error).message}`);
        }
      }
    };
    const clients = [
      ...Array.from({ length: 3 }, () => hammer('iris-native', 'predict_proba', trained.iris_proba, 1e-9)),
      ...Array.from({ length: 3 }, () => hammer('xgb', 'predict_proba', trained.xgb_proba, 1e-6)),
    ];
    const statusOf = async (name: string) => (await index()).find((r) => r.name === name)?.state;
    try {
      {
        for (const name of ['iris-python', 'mlp']) {
          const unload = await postJson(`${server.url}/v2/repository/models/${name}/unload`, '');
          assert.equal(unload.status, 200, unload.text);
          assert.equal(unload.text, '');
          assert.equal(await statusOf(name), 'UNAVAILABLE');
          const gone = await postJson(`${server.url}/v2/models/${name}/infer`, v2Request(trained.rows));
          assert.equal(gone.status, 503);
          assert.match(gone.json.error, /not loaded/);
          assert.equal((await fetch(`${server.url}/v2/models/${name}/ready`)).status, 503);
        }
        for (const name of ['iris-python', 'mlp']) {
          const load = await postJson(`${server.url}/v2/repository/models/${name}/load`, '');
          assert.equal(load.status, 200, load.text);
          assert.equal(await statusOf(name), 'READY');
        }
        // loading a model that is serving reloads it without a gap
        const reload = await postJson(`${server.url}/v2/repository/models/iris-native/load`, {});
        assert.equal(reload.status, 200, reload.text);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.deepEqual(results.errors, []);
    assert.ok(results.ok > 20, `only ${results.ok} requests went through`);
    const back = await postJson(`${server.url}/v2/models/iris-python/infer`, v2Request(trained.rows, 'FP64', 'predict_proba'));
    assertClose(nest(back.json.outputs[0]), trained.knn_proba, 1e-12);
  });

  test('load reads the folder again: a model added at run time loads; unknown and broken ones are clear errors', async () => {
    cpSync(path.join(root, 'iris-native'), path.join(root, 'iris-copy'), { recursive: true });
    writeFileSync(path.join(root, 'iris-copy', 'model-settings.json'), JSON.stringify({ name: 'iris-copy', implementation: 'sklearn' }));
    const load = await postJson(`${server.url}/v2/repository/models/iris-copy/load`, {});
    assert.equal(load.status, 200, load.text);
    const r = await postJson(`${server.url}/v2/models/iris-copy/infer`, v2Request(trained.rows, 'FP64', 'predict_proba'));
    assertClose(nest(r.json.outputs[0]), trained.iris_proba, 1e-9);
    const missing = await postJson(`${server.url}/v2/repository/models/nope/load`, {});
    assert.equal(missing.status, 404);
    assert.match(missing.json.error, /nope not found/);
    const broken = await postJson(`${server.url}/v2/repository/models/lgbm/load`, {});
    assert.equal(broken.status, 400);
    assert.match(broken.json.error, /not supported/);
    const corrupt = await postJson(`${server.url}/v2/repository/models/corrupt/load`, {});
    assert.equal(corrupt.status, 500);
    assert.match(corrupt.json.error, /corrupt failed to load/);
    assert.equal((await postJson(`${server.url}/v2/repository/models/nope/unload`, {})).status, 404);
    assert.equal((await postJson(`${server.url}/v2/repository/models/iris-copy/unload`, 'not json')).status, 400);
  });

  test('gRPC: RepositoryIndex / Load / Unload on GRPCInferenceService and MLServer ModelRepositoryService', async () => {
    const out = await grpcSteps(server.grpcTarget!, [
      { id: 'index', call: 'index' },
      { id: 'unload', call: 'unload', name: 'mlp' },
      { id: 'afterUnload', call: 'mlserver_index' },
      { id: 'readyAfterUnload', call: 'ready', name: 'mlp' },
      { id: 'inferUnloaded', call: 'infer', request: { model_name: 'mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 6], contents: { fp32_contents: trained.mlp_rows[0] } }] } },
      { id: 'load', call: 'mlserver_load', name: 'mlp' },
      { id: 'readyIndex', call: 'index', ready: true },
      { id: 'infer', call: 'infer', request: { model_name: 'mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 6], contents: { fp32_contents: trained.mlp_rows[0] } }] } },
      { id: 'unknown', call: 'load', name: 'nope' },
      { id: 'mlserverUnload', call: 'mlserver_unload', name: 'iris-copy' },
      { id: 'loadBroken', call: 'load', name: 'lgbm' },
    ]);
    const state = (rows: any, name: string) => rows.models.find((m: { name: string }) => m.name === name)?.state;
    assert.equal(state(out.index, 'mlp'), 'READY');
    assert.equal(state(out.index, 'corrupt'), 'UNAVAILABLE');
    assert.deepEqual(out.unload, {});
    assert.equal(state(out.afterUnload, 'mlp'), 'UNAVAILABLE');
    assert.equal(out.readyAfterUnload.ready, false);
    assert.equal(out.inferUnloaded.error, 'UNAVAILABLE');
    assert.deepEqual(out.load, {});
    assert.ok(out.readyIndex.models.every((m: { state: string }) => m.state === 'READY'));
    assert.ok(out.readyIndex.models.some((m: { name: string }) => m.name === 'mlp'));
    assertClose(out.infer.outputs[0].contents.fp32_contents, trained.mlp_scores[0], 1e-5);
    assert.equal(out.unknown.error, 'NOT_FOUND');
    assert.deepEqual(out.mlserverUnload, {});
    assert.equal(out.loadBroken.error, 'INVALID_ARGUMENT');
  });

  test('metrics per model under MLServer names', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const count = (metric: string, model: string) => {
      const m = new RegExp(`^${metric}\\{[^}]*model="${model}"[^}]*\\} (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    assert.ok(count('model_infer_request_success_total', 'iris-native') > 20, text.slice(0, 2000));
    assert.ok(count('model_infer_request_success_total', 'mlp') >= 1);
    assert.ok(count('model_infer_request_failure_total', 'corrupt') >= 1);
    assert.match(text, /model_infer_request_duration_count\{[^}]*model="xgb"[^}]*version="v1"/);
  });
});

describe('a single-model server through the repository: MLSERVER_MODEL_* env only', () => {
  test('modelfleet start without a folder serves the env model', async () => {
    const s = await spawnServer([CLI, 'start'], {
      MLSERVER_MODEL_NAME: 'envmodel',
      MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_sklearn.SKLearnModel',
      MLSERVER_MODEL_URI: path.join(root, 'iris-native'),
      // As a user leaves it: the one-process-per-CPU default must give way to one process for a repository.
      MODELFLEET_HTTP_PROCESSES: '',
    });
    try {
      await waitReady(s, 120_000);
      const r = await postJson(`${s.url}/v2/models/envmodel/infer`, v2Request(trained.rows, 'FP64', 'predict_proba'));
      assertClose(nest(r.json.outputs[0]), trained.iris_proba, 1e-9);
      // one model: Seldon's unnamed path serves it
      const seldon = await postJson(`${s.url}/api/v1.0/predictions`, { data: { ndarray: trained.rows } });
      assert.equal(seldon.status, 200, seldon.text);
    } finally {
      assert.equal(await s.stop(), 0, s.logs());
    }
  });

  test('an unknown implementation in the env stops the start with the supported names', async () => {
    const s = spawnServer([CLI, 'start'], { MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_catboost.CatboostModel', MLSERVER_MODEL_URI: root });
    await assert.rejects(s, /mlserver_catboost\.CatboostModel.*not supported.*SKLEARN_SERVER/s);
  });
});

/** A port the OS says is free now (for contracts that take a port number rather than 0). */
async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const SKLEARN_BIN = path.join(REPO, 'servers/sklearn/dist/main.js');
const XGBOOST_BIN = path.join(REPO, 'servers/xgboost/dist/main.js');
/** Seldon's port variables win over MLServer's: blank them so only MLServer's are in play. */
const NO_SELDON_PORTS = { PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '', PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '' };

describe('server bins take MLServer env and KServe arguments', () => {
  test('sklearnserver with MLServer env: name, URI, ports, workers, implementation and batching', async () => {
    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    const s = await spawnServer([SKLEARN_BIN], {
      ...NO_SELDON_PORTS,
      MLSERVER_MODEL_NAME: 'iris-env',
      MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_sklearn.SKLearnModel',
      MLSERVER_MODEL_URI: path.join(root, 'iris-native'),
      MLSERVER_HTTP_PORT: String(http),
      MLSERVER_GRPC_PORT: String(grpc),
      MLSERVER_METRICS_PORT: String(metrics),
      MLSERVER_PARALLEL_WORKERS: '1',
      MLSERVER_MODEL_MAX_BATCH_SIZE: '8',
      MLSERVER_MODEL_MAX_BATCH_TIME: '0.005',
    });
    try {
      assert.equal(s.url, `http://127.0.0.1:${http}`);
      assert.equal(s.grpcTarget, `127.0.0.1:${grpc}`);
      assert.equal(s.metricsUrl, `http://127.0.0.1:${metrics}`);
      await waitReady(s, 120_000);
      const r = await postJson(`${s.url}/v2/models/iris-env/infer`, v2Request(trained.rows, 'FP64', 'predict_proba'));
      assertClose(nest(r.json.outputs[0]), trained.iris_proba, 1e-9);
      const md = (await (await fetch(`${s.url}/v2/models/iris-env`)).json()) as { parameters: Record<string, unknown> };
      assert.equal(md.parameters.max_batch_size, 8);
      assert.equal(md.parameters.max_batch_time, 0.005);
      assert.equal((await fetch(`${s.metricsUrl}/metrics`)).status, 200);
      // a single-model server: the index has its model; loading and unloading are not for it
      assert.deepEqual((await postJson(`${s.url}/v2/repository/index`, {})).json, [{ name: 'iris-env', state: 'READY', reason: '' }]);
      const unload = await postJson(`${s.url}/v2/repository/models/iris-env/unload`, {});
      assert.equal(unload.status, 501);
      assert.match(unload.json.error, /modelfleet start/);
      assert.equal((await postJson(`${s.url}/v2/repository/models/other/load`, {})).status, 404);
    } finally {
      assert.equal(await s.stop(), 0, s.logs());
    }
  });

  test('xgboostserver with KServe args: --model_name --model_dir --http_port --grpc_port --workers (--nthread accepted)', async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    const s = await spawnServer([XGBOOST_BIN, '--model_name=xgb-k', '--model_dir', path.join(root, 'xgb'), `--http_port=${http}`, `--grpc_port=${grpc}`, '--workers=1', '--nthread=2'], NO_SELDON_PORTS);
    try {
      assert.equal(s.url, `http://127.0.0.1:${http}`);
      assert.equal(s.grpcTarget, `127.0.0.1:${grpc}`);
      await waitReady(s, 120_000);
      const r = await postJson(`${s.url}/v1/models/xgb-k:predict`, { instances: trained.rows });
      assert.equal(r.status, 200, r.text);
      assertClose(r.json.predictions, trained.xgb_proba, 1e-6); // KServe's xgbserver answers booster.predict
      assert.match(s.logs(), /KServe arguments that change nothing here: --nthread/);
    } finally {
      assert.equal(await s.stop(), 0, s.logs());
    }
  });

  test('a --model_dir of model folders is served as a repository, as KServe falls back to multi-model serving', async () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'kserve-repo-'));
    cpSync(path.join(root, 'iris-native'), path.join(repo, 'a'), { recursive: true });
    writeFileSync(path.join(repo, 'a', 'model-settings.json'), JSON.stringify({ name: 'a', implementation: 'mlserver_sklearn.SKLearnModel' }));
    cpSync(path.join(root, 'iris-python', 'model.joblib'), path.join(repo, 'b', 'model.joblib')); // no settings: found by its file
    const s = await spawnServer([SKLEARN_BIN, `--model_dir=${repo}`]);
    try {
      await waitReady(s, 120_000);
      const names = ((await postJson(`${s.url}/v2/repository/index`, {})).json as Array<{ name: string; state: string }>).map((m) => `${m.name}:${m.state}`);
      assert.deepEqual(names.sort(), ['a:READY', 'b:READY']);
      const r = await postJson(`${s.url}/v1/models/b:predict`, { instances: trained.rows });
      assert.deepEqual(r.json.predictions, trained.knn_proba.map((p) => p.indexOf(Math.max(...p))));
    } finally {
      assert.equal(await s.stop(), 0, s.logs());
    }
  });

  test('a bin refuses another implementation and unknown arguments, naming what it takes', async () => {
    const wrong = await runToExit([SKLEARN_BIN], { MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_xgboost.XGBoostModel', MODEL_URI: path.join(root, 'iris-native') });
    assert.equal(wrong.code, 2, wrong.output);
    assert.match(wrong.output, /MLSERVER_MODEL_IMPLEMENTATION=mlserver_xgboost\.XGBoostModel is not what this server serves \(SKLEARN_SERVER\)/);
    const unknown = await runToExit([SKLEARN_BIN, '--model_dir=/tmp', '--colour=blue'], {});
    assert.equal(unknown.code, 2, unknown.output);
    assert.match(unknown.output, /unknown argument --colour; KServe arguments taken: --model_name, --model_dir/);
  });
});

describe('adaptive batching (max_batch_size / max_batch_time) on every engine', () => {
  let batched: ServerProcess;
  const MODELS: Array<[string, string, string]> = [
    ['iris-native', 'predict_proba', 'FP64'],
    ['iris-python', 'predict_proba', 'FP64'],
    ['xgb', 'predict_proba', 'FP64'],
    ['mlp', 'scores', 'FP32'],
  ];
  before(async () => {
    // The same model files, each behind batching (uri relative to the settings file, as MLServer resolves it).
    const repo = mkdtempSync(path.join(os.tmpdir(), 'batched-repo-'));
    for (const [name] of MODELS) {
      const dir = path.join(repo, name);
      cpSync(path.join(root, name), dir, { recursive: true });
      const own = path.join(root, name, 'model-settings.json');
      const settings = await import('node:fs').then((fs) => (fs.existsSync(own) ? JSON.parse(fs.readFileSync(own, 'utf8')) : { name, implementation: 'TENSORFLOW_SERVER' }));
      writeFileSync(path.join(dir, 'model-settings.json'), JSON.stringify({ ...settings, name, max_batch_size: 16, max_batch_time: 0.05 }));
    }
    batched = await spawnServer([CLI, 'start', repo]);
    await waitReady(batched, 180_000);
  });
  after(async () => {
    assert.equal(await batched?.stop(), 0, batched?.logs());
  });

  test('48 concurrent requests of 1-3 rows answer exactly what the unbatched model answers, in fewer engine calls', async () => {
    for (const [name, output, datatype] of MODELS) {
      const pool = name === 'mlp' ? trained.mlp_rows : trained.rows;
      const requests = Array.from({ length: 48 }, (_, i) => {
        const rows = Array.from({ length: 1 + (i % 3) }, (_, k) => pool[(i + k) % pool.length].map((v, j) => v + ((i * 7 + j) % 5) * 0.01));
        return v2Request(rows, datatype, output);
      });
      const [many, one] = await Promise.all([
        Promise.all(requests.map((r) => postJson(`${batched.url}/v2/models/${name}/infer`, r))),
        (async () => {
          const out = [];
          for (const r of requests) out.push(await postJson(`${server.url}/v2/models/${name}/infer`, r)); // one at a time: no merging
          return out;
        })(),
      ]);
      many.forEach((r, i) => {
        assert.equal(r.status, 200, `${name} #${i}: ${r.text}`);
        assert.deepEqual(r.json.outputs, one[i].json.outputs, `${name} #${i}`);
      });
      const md = (await (await fetch(`${batched.url}/v2/models/${name}`)).json()) as { parameters: { batches: number; mean_batch_size: number } };
      assert.ok(md.parameters.batches < 48 && md.parameters.mean_batch_size > 1, `${name}: ${JSON.stringify(md.parameters)}`);
    }
  });

  test('a request that cannot join a batch fails alone; the others in its batch are answered', async () => {
    const good = v2Request(trained.rows.slice(0, 2), 'FP64', 'predict_proba');
    const bad = v2Request(trained.rows.slice(0, 2).map((r) => [...r.slice(0, 3), Number.NaN]), 'FP64', 'predict_proba');
    // NaN arrives as null in JSON; the KNN model refuses it, and does so only for that request
    const results = await Promise.all([good, bad, good, good].map((r) => postJson(`${batched.url}/v2/models/iris-python/infer`, r)));
    assert.deepEqual(results.map((r) => r.status), [200, 400, 200, 200], results.map((r) => r.text).join('\n'));
    for (const i of [0, 2, 3]) assertClose(nest(results[i].json.outputs[0]), trained.knn_proba.slice(0, 2), 1e-12);
    assert.equal(batched.proc.exitCode, null);
    const metrics = await (await fetch(`${batched.metricsUrl}/metrics`)).text();
    assert.match(metrics, /batch_request_queue_count\{[^}]*model="iris-python"/);
  });
});
