// Issue 21: a repository on several HTTP processes (MODELFLEET_HTTP_PROCESSES=2, node:cluster sharing the port).
// A load or unload that reaches one process must reach every process: requests go out on fresh connections, which
// the cluster spreads over the processes, and every answer must agree. A replacement for a killed process must
// serve what the others serve (a model the API unloaded stays unloaded there). Answers are compared with what
// scikit-learn computes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

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
root = sys.argv[1]
X, y = load_iris(return_X_y=True)
rows = X[::11][:6]
models = {'lr': LogisticRegression(max_iter=1000).fit(X, y), 'knn': KNeighborsClassifier(n_neighbors=6).fit(X, y)}
for name, m in models.items():
    d = os.path.join(root, name); os.makedirs(d)
    joblib.dump(m, os.path.join(d, 'model.joblib'))
    with open(os.path.join(d, 'model-settings.json'), 'w') as f:
        json.dump({'name': name, 'implementation': 'mlserver_sklearn.SKLearnModel', 'parameters': {'extra': {'engine': 'python'}}}, f)
json.dump({'rows': rows.tolist(), 'proba': {n: m.predict_proba(rows).tolist() for n, m in models.items()}}, sys.stdout)
`;

/** One request on its own connection (no keep-alive), so the cluster may hand it to any process. */
function fresh(url: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, { method: data ? 'POST' : 'GET', agent: false, headers: { connection: 'close', 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const nodeChildren = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /node/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return [];
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
  const root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-cluster-repo-'));
  trained = await pythonJson<Trained>(TRAIN, ['sklearn'], [root]);
  server = await spawnServer([CLI, 'start', root], { MODELFLEET_HTTP_PROCESSES: '2' });
  await waitReady(server, 180_000);
  // readiness comes from the first process; wait for the second to load and take its share of the port
  for (let t = 0; t < 1200 && (server.logs().match(/2 model\(s\) ready/g) ?? []).length < 2; t++) await sleep(100);
});

after(async () => {
  assert.equal(await server?.stop(), 0, server?.logs());
});

/** `n` requests on fresh connections: every answer's state of `name` in the index. */
async function indexStates(name: string, n = 12): Promise<string[]> {
  const states: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fresh(`${server.url}/v2/repository/index`, {});
    assert.equal(r.status, 200, r.text);
    states.push((r.json as Array<{ name: string; state: string }>).find((m) => m.name === name)?.state ?? 'missing');
  }
  return states;
}

async function inferStatuses(name: string, n = 12): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fresh(`${server.url}/v2/models/${name}/infer`, request(trained.rows));
    statuses.push(r.status);
    if (r.status === 200) assertClose(nest(r.json.outputs[0]), trained.proba[name], 1e-12);
  }
  return statuses;
}

describe('a repository on two HTTP processes', () => {
  test('two server processes, both serving both models', async () => {
    assert.equal(nodeChildren(server.proc.pid!).length, 2, server.logs());
    assert.equal((server.logs().match(/2 model\(s\) ready/g) ?? []).length, 2, server.logs());
    assert.deepEqual(await inferStatuses('lr'), new Array(12).fill(200));
    assert.deepEqual(await inferStatuses('knn'), new Array(12).fill(200));
  });

  test('unload and load through one process reach both: every process answers the same index and requests', async () => {
    const un = await fresh(`${server.url}/v2/repository/models/knn/unload`, '');
    assert.equal(un.status, 200, un.text);
    assert.deepEqual(await indexStates('knn'), new Array(12).fill('UNAVAILABLE'));
    assert.deepEqual(await inferStatuses('knn'), new Array(12).fill(503));
    assert.deepEqual(await inferStatuses('lr'), new Array(12).fill(200));
    const load = await fresh(`${server.url}/v2/repository/models/knn/load`, '');
    assert.equal(load.status, 200, load.text);
    assert.deepEqual(await indexStates('knn'), new Array(12).fill('READY'));
    assert.deepEqual(await inferStatuses('knn'), new Array(12).fill(200));
    // errors come back from the processes in the repository API's shape
    const unknown = await fresh(`${server.url}/v2/repository/models/nope/load`, '');
    assert.equal(unknown.status, 404, unknown.text);
    assert.match(unknown.json.error, /nope/);
  });

  test('a replacement for a killed process serves what the others serve: a model unloaded by the API stays unloaded', async () => {
    assert.equal((await fresh(`${server.url}/v2/repository/models/knn/unload`, '')).status, 200);
    const pid = server.proc.pid!;
    const [victim] = nodeChildren(pid);
    process.kill(victim, 'SIGKILL');
    for (let t = 0; t < 600 && !(nodeChildren(pid).length === 2 && !nodeChildren(pid).includes(victim)); t++) await sleep(100);
    // the replacement binds once it has loaded: wait for its start-up line
    for (let t = 0; t < 1200 && (server.logs().match(/model\(s\) ready/g) ?? []).length < 3; t++) await sleep(100);
    assert.match(server.logs(), /starting another/);
    assert.deepEqual(await indexStates('knn', 16), new Array(16).fill('UNAVAILABLE'));
    assert.deepEqual(await inferStatuses('lr', 16), new Array(16).fill(200));
    assert.equal((await fresh(`${server.url}/v2/repository/models/knn/load`, '')).status, 200);
    assert.deepEqual(await inferStatuses('knn', 16), new Array(16).fill(200));
  });
});
