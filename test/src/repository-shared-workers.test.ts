// Issue 21: models share the server's workers. A repository of Python-engine models (three scikit-learn models
// on the Python engine, one broken) started with parallel_workers 2 is served by the server's one pool of two
// Python processes, whatever the number of models: counted with ps. Answers are compared with what scikit-learn
// computes; load/unload of some models under load on another, and kill -9 of the shared processes under load,
// fail no request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, postJson, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

interface Trained {
  rows: number[][];
  proba: Record<string, number[][]>;
}

const TRAIN = `
import json, os, sys
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
root = sys.argv[1]
X, y = load_iris(return_X_y=True)
rows = X[::13][:10]
models = {
    'knn': KNeighborsClassifier(n_neighbors=5).fit(X, y),
    'knn9': KNeighborsClassifier(n_neighbors=9).fit(X, y),
    'logreg': LogisticRegression(max_iter=1000, C=0.5).fit(X, y),
}
def settings(name, body):
    d = os.path.join(root, name); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'model-settings.json'), 'w') as f: json.dump(body, f)
    return d
for name, m in models.items():
    # engine python: scikit-learn itself serves each of them, in the server's shared Python processes
    d = settings(name, {'name': name, 'implementation': 'mlserver_sklearn.SKLearnModel', 'parameters': {'extra': {'engine': 'python'}}})
    joblib.dump(m, os.path.join(d, 'model.joblib'))
d = settings('broken', {'name': 'broken', 'implementation': 'mlserver_sklearn.SKLearnModel', 'parameters': {'extra': {'engine': 'python'}}})
with open(os.path.join(d, 'model.joblib'), 'wb') as f: f.write(b'not a pickle')
with open(os.path.join(root, 'settings.json'), 'w') as f: json.dump({'parallel_workers': 2}, f)
json.dump({'rows': rows.tolist(), 'proba': {n: m.predict_proba(rows).tolist() for n, m in models.items()}}, sys.stdout)
`;

const NAMES = ['knn', 'knn9', 'logreg'];

const pythonChildren = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /python/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there are none
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const request = (rows: number[][]) => ({
  inputs: [{ name: 'input-0', shape: [rows.length, rows[0].length], datatype: 'FP64', data: rows.flat() }],
  outputs: [{ name: 'predict_proba' }],
});
const nest = (o: { shape: number[]; data: number[] }) => Array.from({ length: o.shape[0] }, (_, i) => o.data.slice(i * o.shape[1], (i + 1) * o.shape[1]));

let trained: Trained;
let server: ServerProcess;

before(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-shared-'));
  trained = await pythonJson<Trained>(TRAIN, ['sklearn'], [root]);
  server = await spawnServer([CLI, 'start', root]);
  await waitReady(server, 180_000);
});

after(async () => {
  assert.equal(await server?.stop(), 0, server?.logs());
});

/** Clients that keep asking `name` and check every answer against scikit-learn's. */
function hammer(names: string[], perModel: number) {
  let stop = false;
  const results = { ok: 0, errors: [] as string[] };
  const one = async (name: string) => {
    while (!stop) {
      try {
        const r = await postJson(`${server.url}/v2/models/${name}/infer`, request(trained.rows));
        if (r.status !== 200) results.errors.push(`${name}: ${r.status} ${r.text}`);
        else {
          assertClose(nest(r.json.outputs[0]), trained.proba[name], 1e-12);
          results.ok++;
        }
      } catch (err) {
        results.errors.push(`${name}: ${(err as Error).message}`);
      }
    }
  };
  const clients = names.flatMap((n) => Array.from({ length: perModel }, () => one(n)));
  return {
    results,
    stop: async () => {
      stop = true;
      await Promise.all(clients);
    },
  };
}

async function assertAnswers(): Promise<void> {
  for (const name of NAMES) {
    const r = await postJson(`${server.url}/v2/models/${name}/infer`, request(trained.rows));
    assert.equal(r.status, 200, r.text);
    assertClose(nest(r.json.outputs[0]), trained.proba[name], 1e-12);
  }
}

describe('Python-engine models share the server pool of Python processes', () => {
  test('three models and a broken one: two Python processes in all, each model answers what scikit-learn computes', async () => {
    const idx = (await postJson(`${server.url}/v2/repository/index`, {})).json as Array<{ name: string; state: string; reason: string }>;
    for (const name of NAMES) assert.equal(idx.find((r) => r.name === name)?.state, 'READY', JSON.stringify(idx));
    const broken = idx.find((r) => r.name === 'broken');
    assert.equal(broken?.state, 'UNAVAILABLE');
    assert.match(broken!.reason, /pickle|load/i);
    assert.equal(pythonChildren(server.proc.pid!).length, 2, server.logs());
    await assertAnswers();
    const md = (await fetch(`${server.url}/v2/models/knn`).then((r) => r.json())) as { parameters: { engine: string; workers: number } };
    assert.equal(md.parameters.engine, 'python');
    assert.equal(md.parameters.workers, 2);
    // a bad request to one model is that model's 400; the others are not touched
    const bad = await postJson(`${server.url}/v2/models/knn/infer`, request([[1, 2, 3]]));
    assert.equal(bad.status, 400, bad.text);
    await assertAnswers();
  });

  test('load and unload of two models under load on the third: zero errors, still two Python processes', async () => {
    const load = hammer(['knn'], 4);
    try {
      for (let round = 0; round < 2; round++) {
        for (const name of ['knn9', 'logreg']) {
          const r = await postJson(`${server.url}/v2/repository/models/${name}/unload`, '');
          assert.equal(r.status, 200, r.text);
          const gone = await postJson(`${server.url}/v2/models/${name}/infer`, request(trained.rows));
          assert.equal(gone.status, 503, gone.text);
        }
        assert.equal(pythonChildren(server.proc.pid!).length, 2);
        for (const name of ['knn9', 'logreg']) {
          const r = await postJson(`${server.url}/v2/repository/models/${name}/load`, '');
          assert.equal(r.status, 200, r.text);
        }
        // a reload of the model under load: the new copy loads beside the old one, which serves until then
        const reload = await postJson(`${server.url}/v2/repository/models/knn/load`, '');
        assert.equal(reload.status, 200, reload.text);
        assert.equal(pythonChildren(server.proc.pid!).length, 2);
      }
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.results.errors, []);
    assert.ok(load.results.ok > 10, `only ${load.results.ok} answers`);
    await assertAnswers();
  });

  test('kill -9 of both shared processes under load on every model: the replacements load every model, no request fails', async () => {
    const load = hammer(NAMES, 2);
    const pid = server.proc.pid!;
    try {
      for (const victim of pythonChildren(pid)) {
        await sleep(500);
        process.kill(victim, 'SIGKILL');
        // wait until the replacement is up before killing the other one, so a model always has a process
        for (let t = 0; t < 600 && !(pythonChildren(pid).length === 2 && !pythonChildren(pid).includes(victim)); t++) await sleep(100);
      }
      await sleep(3000); // the replacements take requests once they have loaded the models
    } finally {
      await load.stop();
    }
    assert.equal((server.logs().match(/exited \(SIGKILL\); starting a replacement/g) ?? []).length, 2, server.logs());
    assert.deepEqual(load.results.errors, []);
    assert.ok(load.results.ok > 10, `only ${load.results.ok} answers`);
    // every answer now comes from the replacements, which must hold every model
    await assertAnswers();
    assert.equal(pythonChildren(pid).length, 2);
  });
});

// Native and ONNX models share the server's worker threads (one piscina pool per engine): threads build each model
// the first time they run it, by id. With an inline budget of 1 us every request of many rows runs on the threads,
// so requests to two models of each engine, interleaved, must each get their own model's answer; unloading one
// model leaves the threads to the others.
const TRAIN_THREADS = `
import json, os, sys
import joblib, numpy as np, torch
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
root = sys.argv[1]
X, y = load_iris(return_X_y=True)
rows = np.tile(X, (2, 1))[:256]
out = {'rows': rows.tolist(), 'proba': {}, 'mlp_rows': None, 'scores': {}}
def settings(name, body):
    d = os.path.join(root, name); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'model-settings.json'), 'w') as f: json.dump(body, f)
    return d
for name, C in (('lr-a', 1.0), ('lr-b', 0.01)):
    m = LogisticRegression(max_iter=1000, C=C).fit(X, y)
    d = settings(name, {'name': name, 'implementation': 'mlserver_sklearn.SKLearnModel', 'parameters': {'extra': {'engine': 'native'}}})
    joblib.dump(m, os.path.join(d, 'model.joblib'))
    out['proba'][name] = m.predict_proba(rows).tolist()
mlp_rows = np.random.default_rng(5).normal(size=(256, 8)).astype(np.float32)
out['mlp_rows'] = mlp_rows.tolist()
for name, seed in (('mlp-a', 1), ('mlp-b', 2)):
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    d = settings(name, {'name': name, 'implementation': 'TENSORFLOW_SERVER'})
    torch.onnx.export(mlp, torch.from_numpy(mlp_rows), os.path.join(d, 'model.onnx'), input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}, opset_version=13)
    with torch.no_grad():
        out['scores'][name] = mlp(torch.from_numpy(mlp_rows)).numpy().tolist()
json.dump(out, sys.stdout)
`;

describe('native and ONNX models share the server worker threads', () => {
  let threaded: ServerProcess;
  let t: { rows: number[][]; proba: Record<string, number[][]>; mlp_rows: number[][]; scores: Record<string, number[][]> };
  before(async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-threads-'));
    t = await pythonJson(TRAIN_THREADS, ['sklearn', 'torch', 'onnx'], [root]);
    threaded = await spawnServer([CLI, 'start', root], { MODELFLEET_WORKERS: '2', MODELFLEET_INLINE_BUDGET_US: '1' });
    await waitReady(threaded, 180_000);
  });
  after(async () => {
    assert.equal(await threaded?.stop(), 0, threaded?.logs());
  });

  const ask = async (name: string) => {
    const onnx = name.startsWith('mlp');
    const rows = onnx ? t.mlp_rows : t.rows;
    const r = await postJson(`${threaded.url}/v2/models/${name}/infer`, {
      inputs: [{ name: onnx ? 'x' : 'input-0', shape: [rows.length, rows[0].length], datatype: onnx ? 'FP32' : 'FP64', data: rows.flat() }],
      ...(onnx ? {} : { outputs: [{ name: 'predict_proba' }] }),
    });
    assert.equal(r.status, 200, `${name}: ${r.text}`);
    return { name, got: nest(r.json.outputs[0]), want: onnx ? t.scores[name] : t.proba[name], rel: onnx ? 1e-5 : 1e-9 };
  };

  test('interleaved many-row requests to two native and two ONNX models: each answers with its own model', async () => {
    assert.match(threaded.logs(), /larger ones on 2 worker thread/);
    const names = ['lr-a', 'lr-b', 'mlp-a', 'mlp-b'];
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => ask(names[i % 4])));
    for (const a of answers) assertClose(a.got, a.want, a.rel);
  });

  test('unloading one model of each engine leaves the shared threads serving the other', async () => {
    for (const name of ['lr-a', 'mlp-a']) assert.equal((await postJson(`${threaded.url}/v2/repository/models/${name}/unload`, '')).status, 200);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(i % 2 ? 'lr-b' : 'mlp-b')));
    for (const a of answers) assertClose(a.got, a.want, a.rel);
    for (const name of ['lr-a', 'mlp-a']) assert.equal((await postJson(`${threaded.url}/v2/repository/models/${name}/load`, '')).status, 200);
    for (const a of await Promise.all(['lr-a', 'mlp-a', 'lr-b', 'mlp-b'].map(ask))) assertClose(a.got, a.want, a.rel);
  });
});
