// `modelfleet run deployment.yaml`: SeldonDeployment graphs executed on one machine — prepackaged servers and
// Python classes in-process, built-ins, a remote REST node — with Seldon's executor semantics, traffic splits,
// shadows, feedback along the route, learning routers, and validation before anything starts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDeployment } from '@modelfleet/shared/graph/deployment';
import { assertClose, IRIS_ROWS } from './helpers/models.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { pythonJson } from './helpers/python.js';
import { CLI, postJson, REPO, runToExit, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

const CLASSES = `
import json
import numpy as np
from seldon_core.flask_utils import SeldonMicroserviceException


def _log(path, record):
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\\n")


class Prep:
    def transform_input(self, X, names):
        return np.asarray(X, dtype=float)

    def tags(self):
        return {"prep": "done"}


class Post:
    def transform_output(self, X, names):
        return np.round(np.asarray(X, dtype=float) * 100, 6)


class Router:
    def __init__(self, log=""):
        self.log = log

    def route(self, X, names):
        return 0 if float(np.asarray(X).ravel()[0]) > 5 else 1

    def send_feedback(self, features, names, reward, truth, routing=None):
        _log(self.log, {"node": "router", "reward": reward, "routing": routing})


class Remote:
    def __init__(self, log=""):
        self.log = log

    def predict(self, X, names):
        return np.tile([0.3, 0.1, 0.7], (np.asarray(X).shape[0], 1))

    def send_feedback(self, features, names, reward, truth, routing=None):
        _log(self.log, {"node": "remote", "reward": reward})


class Shadow:
    def __init__(self, log=""):
        self.log = log

    def predict(self, X, names):
        _log(self.log, {"node": "shadow"})
        return np.asarray(X) * 0


class Failing:
    def predict(self, X, names):
        raise SeldonMicroserviceException("node refuses", status_code=409)
`;

function workdir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-graph-'));
  writeFileSync(path.join(dir, 'Graph.py'), CLASSES);
  return dir;
}

const container = (name: string, cls: string) => `        - name: ${name}\n          image: tests/${name}:0.1\n          env:\n          - name: MODEL_NAME\n            value: Graph.${cls}\n`;
const logParam = (file: string) => `      parameters:\n      - name: log\n        value: "${file}"\n        type: STRING\n`;
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

async function run(dir: string, yaml: string): Promise<ServerProcess> {
  const file = path.join(dir, `sdep-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const server = await spawnServer([CLI, 'run', file, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
  await waitReady(server, 120_000);
  return server;
}

describe('a seven-node graph mixing every node type', () => {
  let dir: string;
  let remote: ServerProcess;
  let server: ServerProcess;
  let iris: number[][];
  before(async () => {
    dir = workdir();
    iris = await pythonJson<number[][]>(
      `import sys, json, joblib, os
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
m = LogisticRegression(max_iter=1000).fit(X, y)
os.makedirs(sys.argv[1] + "/iris", exist_ok=True)
joblib.dump(m, sys.argv[1] + "/iris/model.joblib")
print(json.dumps(m.predict_proba(json.loads(sys.argv[2])).tolist()))`,
      ['sklearn', 'joblib'],
      [dir, JSON.stringify(IRIS_ROWS)],
    );
    remote = await serveCli(['Graph.Remote', '--model-dir', dir, '--workers', '1', '--param', `log=${dir}/remote.log`]);
    await waitReady(remote);
    const port = new URL(remote.url).port;
    server = await run(
      dir,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: mixed
spec:
  predictors:
  - name: main
    componentSpecs:
    - spec:
        containers:
${container('post', 'Post')}${container('prep', 'Prep')}${container('router', 'Router')}
    graph:
      name: post
      type: OUTPUT_TRANSFORMER
      modelUri: .
      children:
      - name: prep
        type: TRANSFORMER
        modelUri: .
        children:
        - name: router
          type: ROUTER
          modelUri: .
          parameters: [{name: log, value: "${dir}/router.log", type: STRING}]
          children:
          - name: iris
            implementation: SKLEARN_SERVER
            modelUri: ./iris
          - name: avg
            implementation: AVERAGE_COMBINER
            children:
            - name: simple
              implementation: SIMPLE_MODEL
            - name: remote
              endpoint:
                service_host: 127.0.0.1
                service_port: ${port}
                type: REST
`,
    );
  });
  after(async () => {
    await remote?.stop();
    if (server) assert.equal(await server.stop(), 0, server.logs());
  });

  test('each branch answers as its models do, with routing and the request path in meta', async () => {
    // First feature > 5 routes to the iris model, else to the average of SIMPLE_MODEL and the remote node.
    const big = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    assert.equal(big.status, 200, big.text);
    assertClose(big.json.data.ndarray, [iris[0].map((p) => Math.round(p * 100 * 1e6) / 1e6)], 1e-9);
    assert.deepEqual(big.json.meta.routing, { router: 0 });
    assert.ok(big.json.meta.requestPath.iris && big.json.meta.requestPath.post && big.json.meta.requestPath.prep, JSON.stringify(big.json.meta));
    assert.equal(big.json.meta.tags.prep, 'done');
    assert.match(big.json.meta.puid, /^[0-9a-f-]{36}$/);
    const small = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[4.9, 3.0, 1.4, 0.2]] } });
    assert.deepEqual(small.json.data.ndarray, [[20, 50, 60]]);
    assert.deepEqual(small.json.meta.routing, { router: 1 });
    // The ingress-style path and V2 reach the same graph.
    const ingress = await postJson(`${server.url}/seldon/default/mixed/api/v1.0/predictions`, { data: { ndarray: [[4.9, 3.0, 1.4, 0.2]] } });
    assert.deepEqual(ingress.json.data.ndarray, [[20, 50, 60]]);
    const v2 = await postJson(`${server.url}/v2/models/mixed/infer`, { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: [4.9, 3.0, 1.4, 0.2] }] });
    assert.equal(v2.status, 200, v2.text);
    assert.deepEqual(v2.json.outputs[0].data, [20, 50, 60]);
  });

  test('gRPC Seldon/Predict runs the same graph', async () => {
    const r = await pythonGrpc(server.grpcTarget!, [{ id: 'p', call: 'seldon', service: 'Seldon', message: { data: { ndarray: [[4.9, 3.0, 1.4, 0.2]] } } }]);
    assert.deepEqual(r.p.data.ndarray, [[20, 50, 60]]);
    assert.deepEqual(r.p.meta.routing, { router: 1 });
  });

  test('feedback goes back along the route taken: the router and the routed branch only', async () => {
    const toIris = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    const fb1 = await postJson(`${server.url}/api/v1.0/feedback`, { request: { data: { ndarray: [IRIS_ROWS[0]] } }, response: toIris.json, reward: 1 });
    assert.equal(fb1.status, 200, fb1.text);
    assert.deepEqual(lines(`${dir}/remote.log`), []);
    const toAvg = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[4.9, 3.0, 1.4, 0.2]] } });
    const fb2 = await postJson(`${server.url}/api/v1.0/feedback`, { request: { data: { ndarray: [[4.9, 3.0, 1.4, 0.2]] } }, response: toAvg.json, reward: 0.25 });
    assert.equal(fb2.status, 200, fb2.text);
    assert.deepEqual(lines(`${dir}/router.log`), [
      { node: 'router', reward: 1, routing: 0 },
      { node: 'router', reward: 0.25, routing: 1 },
    ]);
    assert.deepEqual(lines(`${dir}/remote.log`), [{ node: 'remote', reward: 0.25 }]);
  });

  test('a node reached over gRPC (endpoint type GRPC) predicts and takes feedback', async () => {
    const grpcPort = remote.grpcTarget!.split(':')[1];
    const viaGrpc = await run(
      dir,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: viagrpc}
spec:
  predictors:
  - name: p
    graph:
      name: remote
      endpoint: {service_host: 127.0.0.1, service_port: ${grpcPort}, type: GRPC}
`,
    );
    try {
      const before = lines(`${dir}/remote.log`).length;
      const r = await postJson(`${viaGrpc.url}/api/v1.0/predictions`, { data: { tensor: { shape: [2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8] } } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.tensor, { shape: [2, 3], values: [0.3, 0.1, 0.7, 0.3, 0.1, 0.7] });
      const fb = await postJson(`${viaGrpc.url}/api/v1.0/feedback`, { request: { data: { ndarray: [[1, 2, 3, 4]] } }, response: r.json, reward: 3 });
      assert.equal(fb.status, 200, fb.text);
      assert.deepEqual(lines(`${dir}/remote.log`).slice(before), [{ node: 'remote', reward: 3 }]);
    } finally {
      await viaGrpc.stop();
    }
  });

  test('executor metrics: server requests per predictor and client calls per node', async () => {
    const text = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    assert.match(text, /^seldon_api_executor_server_requests_seconds_count\{[^}]*deployment_name="mixed"[^}]*predictor_name="main"[^}]*service="predictions"[^}]*code="200"[^}]*\} \d+/m);
    for (const [node, service] of [['router', '/route'], ['iris', '/predict'], ['remote', '/predict'], ['avg', '/aggregate'], ['post', '/transform-output'], ['prep', '/transform-input']]) {
      assert.match(text, new RegExp(`^seldon_api_executor_client_requests_seconds_count\\{[^}]*model_name="${node}"[^}]*service="${service}"`, 'm'), `${node} ${service}`);
    }
  });
});

describe('predictors: traffic split, shadow, failing nodes', () => {
  let dir: string;
  let server: ServerProcess;
  before(async () => {
    dir = workdir();
    server = await run(
      dir,
      `apiVersion: machinelearning.seldon.io/v1alpha2
kind: SeldonDeployment
metadata:
  name: abtest
spec:
  predictors:
  - name: a
    traffic: 75
    graph: {name: model-a, implementation: SIMPLE_MODEL}
  - name: b
    traffic: 25
    graph: {name: model-b, implementation: SIMPLE_MODEL}
  - name: mirror
    shadow: true
    componentSpecs:
    - spec:
        containers:
${container('shadow', 'Shadow')}
    graph:
      name: shadow
      modelUri: .
${logParam(`${dir}/shadow.log`)}`,
    );
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, server.logs());
  });

  test('2,000 requests split 75/25 within a statistical bound; the shadow gets a copy of each and never answers', async () => {
    const counts: Record<string, number> = {};
    const n = 2000;
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } })),
      );
      for (const r of batch) {
        assert.equal(r.status, 200, r.text);
        const node = Object.keys(r.json.meta.requestPath).join();
        counts[node] = (counts[node] ?? 0) + 1;
      }
    }
    assert.deepEqual(Object.keys(counts).sort(), ['model-a', 'model-b']);
    // Binomial(2000, 0.75): sd 0.0097; the bound is 5 sd.
    const share = counts['model-a'] / n;
    assert.ok(Math.abs(share - 0.75) < 0.05, `share of a: ${share}`);
    const deadline = Date.now() + 30_000;
    while (lines(`${dir}/shadow.log`).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(lines(`${dir}/shadow.log`).length, n);
  });

  test('a failing node passes its status and body through; an unreachable node is a 503 naming it; the deployment keeps serving', async () => {
    const failing = await run(
      dir,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: failing}
spec:
  predictors:
  - name: p
    componentSpecs:
    - spec:
        containers:
${container('refuser', 'Failing')}
    graph:
      name: split
      implementation: RANDOM_ABTEST
      parameters: [{name: ratioA, value: "1.0", type: FLOAT}]
      children:
      - name: refuser
        modelUri: .
      - name: gone
        endpoint: {service_host: 127.0.0.1, service_port: 1, type: REST}
`,
    );
    const failing2 = await run(
      dir,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: unreachable}
spec:
  predictors:
  - name: p
    graph:
      name: gone
      endpoint: {service_host: 127.0.0.1, service_port: 1, type: GRPC}
`,
    );
    try {
      const r = await postJson(`${failing.url}/api/v1.0/predictions`, { data: { ndarray: [[1]] } });
      assert.equal(r.status, 409);
      assert.deepEqual(r.json, { status: { status: 1, info: 'node refuses', code: -1, reason: 'MICROSERVICE_BAD_DATA' } });
      const g = await postJson(`${failing2.url}/api/v1.0/predictions`, { data: { ndarray: [[1]] } });
      assert.equal(g.status, 503);
      assert.match(g.json.status.info, /graph node "gone" at 127\.0\.0\.1:1 is unreachable/);
      assert.equal((await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1]] } })).status, 200);
    } finally {
      await failing.stop();
      await failing2.stop();
    }
  });
});

describe('learning routers', () => {
  for (const [implementation, params] of [['EPSILON_GREEDY', '[{name: epsilon, value: "0.1", type: FLOAT}]'], ['THOMPSON_SAMPLING', '[]']]) {
    test(`${implementation} learns from feedback rewards to send most traffic to the better branch`, async () => {
      const dir = workdir();
      const server = await run(
        dir,
        `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: bandit}
spec:
  predictors:
  - name: p
    graph:
      name: bandit
      implementation: ${implementation}
      parameters: ${params}
      children:
      - {name: poor, implementation: SIMPLE_MODEL}
      - {name: good, implementation: SIMPLE_MODEL}
`,
      );
      try {
        const chosen: string[] = [];
        for (let i = 0; i < 300; i++) {
          const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1]] } });
          const branch = Object.keys(r.json.meta.requestPath)[0];
          chosen.push(branch);
          const fb = await postJson(`${server.url}/api/v1.0/feedback`, { response: r.json, reward: branch === 'good' ? 1 : 0 });
          assert.equal(fb.status, 200, fb.text);
        }
        const late = chosen.slice(200);
        const good = late.filter((b) => b === 'good').length / late.length;
        assert.ok(good > 0.8, `share of the better branch in the last 100: ${good}`);
        assert.ok(chosen.includes('poor'), 'it explored');
      } finally {
        await server.stop();
      }
    });
  }
});

describe('validation before anything starts', () => {
  const base = (predictors: string) => `apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: x}\nspec:\n  predictors:\n${predictors}`;
  const problems = (text: string) => {
    try {
      parseDeployment(text, 'sdep.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  test('each rule gives a message that names the problem', () => {
    assert.match(problems('a: [1, 2\n'), /sdep\.yaml: invalid YAML/);
    assert.match(problems('kind: Deployment\n'), /expected one document of kind SeldonDeployment, found 0/);
    assert.match(problems(base('  - {name: a, traffic: 60, graph: {name: m, implementation: SIMPLE_MODEL}}\n  - {name: b, traffic: 30, graph: {name: m, implementation: SIMPLE_MODEL}}\n')), /traffic of the predictors must sum to 100, got 90 \(a: 60, b: 30\)/);
    assert.match(problems(base('  - {name: a, shadow: true, graph: {name: m, implementation: SIMPLE_MODEL}}\n')), /a shadow predictor cannot be the only predictor/);
    assert.match(
      problems(base('  - {name: a, graph: {name: m, implementation: SIMPLE_MODEL}}\n  - {name: s1, shadow: true, graph: {name: m, implementation: SIMPLE_MODEL}}\n  - {name: s2, shadow: true, graph: {name: m, implementation: SIMPLE_MODEL}}\n')),
      /at most one predictor may be a shadow, found 2/,
    );
    assert.match(problems(base('  - {name: a, graph: {name: m, implementation: TORCH_SERVER}}\n')), /node "m": unknown implementation "TORCH_SERVER"/);
    assert.match(problems(base('  - {name: a, graph: {name: m, implementation: SIMPLE_ROUTER, children: [{name: m, implementation: SIMPLE_MODEL}]}}\n')), /node "m": duplicate node name/);
    assert.match(problems(base('  - {name: a, graph: {name: r, type: ROUTER, implementation: SIMPLE_ROUTER}}\n')), /a router needs children/);
    assert.match(problems(base('  - {name: a, graph: {name: custom}}\n')), /node "custom": nothing to run/);
    assert.match(
      problems(base('  - {name: a, graph: {name: ab, implementation: RANDOM_ABTEST, children: [{name: x, implementation: SIMPLE_MODEL}, {name: y, implementation: SIMPLE_MODEL}, {name: z, implementation: SIMPLE_MODEL}]}}\n')),
      /RANDOM_ABTEST routes between exactly two children, got 3/,
    );
    assert.match(problems(base('  - {name: a, graph: {name: m, implementation: SIMPLE_MODEL, parameters: [{name: k, value: "x", type: INT}]}}\n')), /parameter "k": x is not an INT/);
    assert.match(problems(base('  - {name: a, graph: {name: m, type: MODLE, implementation: SIMPLE_MODEL}}\n')), /type must be one of MODEL, TRANSFORMER/);
    assert.equal(problems(base('  - {name: a, traffic: 100, graph: {name: m, implementation: SIMPLE_MODEL}}\n')), 'accepted');
    assert.equal(problems(readFileSync(path.join(REPO, 'examples/ab.yaml'), 'utf8')), 'accepted'); // the README's example
  });

  test('modelfleet run reports every problem and exits 2 without binding a port', async () => {
    const dir = workdir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: bad}\nspec:\n  predictors:\n  - {name: a, traffic: 50, graph: {name: m, implementation: NOPE}}\n  - {name: b, traffic: 40, graph: {name: n, implementation: SIMPLE_MODEL}}\n');
    const r = await runToExit([CLI, 'run', file, '--http-port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.output, /2 problems/);
    assert.match(r.output, /unknown implementation "NOPE"/);
    assert.match(r.output, /must sum to 100, got 90/);
    assert.doesNotMatch(r.output, /HTTP on/);
  });
});
