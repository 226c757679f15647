// The Python language wrapper: users' own model classes, written here, served with Seldon's user contract over
// REST and gRPC (an independent grpcio client), with every hook, return type, error path and custom metric.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { assertClose, IRIS_ROWS } from './helpers/models.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { pythonJson } from './helpers/python.js';
import { postJson, REPO, runToExit, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

const MICROSERVICE = `${REPO}shared/dist/microservice.js`;
const params = (list: Array<[string, unknown, string]>) => JSON.stringify(list.map(([name, value, type]) => ({ name, value, type })));

/** A POST on a connection of its own. */
function postFresh(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-class-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

// The seed's example: a class that loads a trained model in load() (by a path relative to its folder).
const SEED_MODEL = `
import joblib

class Model:
    def __init__(self):
        self._model = None

    def load(self):
        self._model = joblib.load("model.joblib")

    def predict(self, X, features_names):
        return self._model.predict_proba(X)
`;

const EVERYTHING = `
import os
import numpy as np
from seldon_core.user_model import SeldonResponse
from seldon_core.flask_utils import SeldonMicroserviceException


class Conflict(Exception):
    status_code = 422

    def to_dict(self):
        return {"status": {"status": 1, "info": "custom body", "code": -1, "reason": "MY_REASON"}, "extra": 42}


class Everything:
    def __init__(self, offset=0, label="x", flag=False, cfg=None, ratio=0.0):
        self.offset, self.label, self.flag, self.cfg, self.ratio = offset, label, flag, cfg, ratio
        self.feedback = []
        self.loaded = False

    def load(self):
        self.loaded = True

    def init_metadata(self):
        return {"name": "everything", "versions": ["v3"], "platform": "custom",
                "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}],
                "outputs": [{"name": "y", "datatype": "FP64", "shape": [-1, 2]}], "custom": {"author": "tests"}}

    def predict(self, X, names, meta=None):
        want = ((meta or {}).get("tags") or {}).get("want")
        if want == "fail":
            raise ValueError("deliberate failure")
        if want == "seldon_exc":
            raise SeldonMicroserviceException("refused by the model", status_code=409)
        if want == "custom_exc":
            raise Conflict("conflict")
        if want == "none":
            return None
        if want == "bad_metric":
            return SeldonResponse([1.0], metrics=[{"type": "NOPE", "key": "k", "value": 1}])
        if want == "die":
            os._exit(3)
        if want == "strings":
            return [["a", "b"], ["c", "d"]]
        if want == "response":
            return SeldonResponse(np.asarray(X) + 1, tags={"runtime": "yes"}, metrics=[{"type": "GAUGE", "key": "runtime_gauge", "value": 7}])
        if want == "shape":
            return {"shape": list(np.shape(X)), "dtype": str(np.asarray(X).dtype), "names": names}
        if isinstance(X, str):
            return X.upper()
        if isinstance(X, bytes):
            return X[::-1]
        if isinstance(X, dict):
            return {"keys": sorted(X), "offset": self.offset, "label": self.label, "flag": self.flag, "cfg": self.cfg,
                    "ratio": self.ratio, "loaded": self.loaded}
        return np.asarray(X, dtype=float) * 2 + self.offset

    def class_names(self):
        return ["a", "b"]

    def feature_names(self):
        return ["f1", "f2"]

    def transform_input(self, X, names):
        return np.asarray(X) + 100

    def transform_output(self, X, names):
        return np.asarray(X) * -1

    def route(self, X, names):
        first = float(np.asarray(X).ravel()[0])
        return "left" if first < 0 else int(first) % 2

    def aggregate(self, Xs, names_list):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)

    def send_feedback(self, features, names, reward, truth, routing=None):
        self.feedback.append({"features": np.asarray(features).tolist(), "reward": reward,
                              "truth": None if truth is None else np.asarray(truth).tolist(), "routing": routing})
        return None

    def health_status(self):
        return {"healthy": True, "feedback": self.feedback}

    def tags(self):
        return {"model_tag": "t1"}

    def metrics(self):
        return [{"type": "COUNTER", "key": "calls", "value": 1},
                {"type": "GAUGE", "key": "gauge_val", "value": 5, "tags": {"kind": "g"}},
                {"type": "TIMER", "key": "work_ms", "value": 20}]
`;

describe('the seed example: Model.py loading a scikit-learn model', () => {
  let server: ServerProcess;
  let expected: number[][];
  before(async () => {
    const dir = folder({ 'Model.py': SEED_MODEL });
    expected = await pythonJson<number[][]>(
      `import sys, json, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
m = LogisticRegression(max_iter=1000).fit(X, y)
joblib.dump(m, sys.argv[1] + "/model.joblib")
print(json.dumps(m.predict_proba(json.loads(sys.argv[2])).tolist()))`,
      ['sklearn', 'joblib'],
      [dir, JSON.stringify(IRIS_ROWS)],
    );
    server = await serveCli(['Model', '--model-dir', dir, '--workers', '2', '--grpc-port', '0']);
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('REST ndarray and tensor, V2 and gRPC all answer predict_proba as scikit-learn does', async () => {
    const nd = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
    assert.equal(nd.status, 200, nd.text);
    assert.deepEqual(nd.json.data.names, ['t:0', 't:1', 't:2']);
    assertClose(nd.json.data.ndarray, expected);
    const t = await postJson(`${server.url}/predict`, { data: { tensor: { shape: [4, 4], values: IRIS_ROWS.flat() } } });
    assert.deepEqual(t.json.data.tensor.shape, [4, 3]);
    assertClose(t.json.data.tensor.values, expected.flat());
    const v2 = await postJson(`${server.url}/v2/models/model/infer`, { inputs: [{ name: 'x', datatype: 'FP64', shape: [4, 4], data: IRIS_ROWS.flat() }] });
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.json.outputs[0].name, 'predict');
    assertClose(v2.json.outputs[0].data, expected.flat());
    const g = await pythonGrpc(server.grpcTarget!, [{ id: 'p', call: 'seldon', message: { data: { ndarray: IRIS_ROWS } } }]);
    assertClose(g.p.data.ndarray, expected);
  });

  test('a wrong feature count is the user code\'s exception, answered as a 500 with its message; the server keeps serving', async () => {
    const bad = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
    assert.equal(bad.status, 500);
    assert.equal(bad.json.status.reason, 'MICROSERVICE_INTERNAL_ERROR');
    assert.match(bad.json.status.info, /features/);
    const ok = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
    assert.equal(ok.status, 200);
  });
});

describe('a class with every hook', () => {
  let server: ServerProcess;
  before(async () => {
    const dir = folder({ 'Everything.py': EVERYTHING });
    server = await spawnServer([MICROSERVICE], {
      MODEL_NAME: 'Everything',
      MODEL_URI: dir,
      PREDICTIVE_UNIT_ID: 'unit-a',
      PREDICTIVE_UNIT_IMAGE: 'me/everything:1.2',
      PREDICTIVE_UNIT_PARAMETERS: params([
        ['offset', '3', 'INT'],
        ['label', 'hello', 'STRING'],
        ['flag', 'true', 'BOOL'],
        ['cfg', '{"k": [1, 2]}', 'JSON'],
        ['ratio', '0.25', 'DOUBLE'],
      ]),
    });
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });
  const post = (p: string, body: unknown) => postJson(`${server.url}${p}`, body);

  test('typed parameters reach the constructor and load() ran', async () => {
    const r = await post('/api/v1.0/predictions', { jsonData: { b: 1, a: 2 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.jsonData, { keys: ['a', 'b'], offset: 3, label: 'hello', flag: true, cfg: { k: [1, 2] }, ratio: 0.25, loaded: true });
  });

  test('numeric results keep the request form and take class_names; meta carries tags, metrics, puid and the request path', async () => {
    const nd = await post('/api/v1.0/predictions', { data: { names: ['p', 'q'], ndarray: [[1, 2]] }, meta: { puid: 'abc', tags: { incoming: 1 } } });
    assert.deepEqual(nd.json.data, { names: ['a', 'b'], ndarray: [[5, 7]] });
    assert.equal(nd.json.meta.puid, 'abc');
    assert.deepEqual(nd.json.meta.tags, { incoming: 1, model_tag: 't1' });
    assert.deepEqual(nd.json.meta.requestPath, { 'unit-a': 'me/everything:1.2' });
    assert.deepEqual(nd.json.meta.metrics.map((m: any) => m.key), ['calls', 'gauge_val', 'work_ms']);
    const t = await post('/api/v1.0/predictions', { data: { tensor: { shape: [1, 2], values: [1, 2] } } });
    assert.deepEqual(t.json.data, { names: ['a', 'b'], tensor: { shape: [1, 2], values: [5, 7] } });
    // 1-D in, 1-D out, no names (Seldon: rank 1 has none); the hook sees the shape the caller sent.
    const one = await post('/api/v1.0/predictions', { data: { ndarray: [1, 2] } });
    assert.deepEqual(one.json.data, { names: [], ndarray: [5, 7] });
    const shape = await post('/api/v1.0/predictions', { data: { names: ['p', 'q'], ndarray: [1, 2] }, meta: { tags: { want: 'shape' } } });
    assert.deepEqual(shape.json.jsonData, { shape: [2], dtype: 'float64', names: ['p', 'q'] });
  });

  test('strings -> strData, bytes -> binData, dicts -> jsonData, string arrays -> ndarray, SeldonResponse tags and metrics', async () => {
    assert.deepEqual((await post('/api/v1.0/predictions', { strData: 'hello' })).json.strData, 'HELLO');
    const bin = await post('/api/v1.0/predictions', { binData: Buffer.from('abc').toString('base64') });
    assert.equal(Buffer.from(bin.json.binData, 'base64').toString(), 'cba');
    const strings = await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] }, meta: { tags: { want: 'strings' } } });
    assert.deepEqual(strings.json.data, { names: ['a', 'b'], ndarray: [['a', 'b'], ['c', 'd']] });
    const resp = await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] }, meta: { tags: { want: 'response' } } });
    assert.deepEqual(resp.json.data.ndarray, [[2, 3]]);
    assert.equal(resp.json.meta.tags.runtime, 'yes');
    assert.ok(resp.json.meta.metrics.some((m: any) => m.key === 'runtime_gauge' && m.value === 7));
  });

  test('transform-input uses feature_names, transform-output class_names', async () => {
    const ti = await post('/transform-input', { data: { names: ['p', 'q'], ndarray: [[1, 2]] } });
    assert.deepEqual(ti.json.data, { names: ['f1', 'f2'], ndarray: [[101, 102]] });
    const to = await post('/transform-output', { data: { ndarray: [[1, 2]] } });
    assert.deepEqual(to.json.data, { names: ['a', 'b'], ndarray: [[-1, -2]] });
  });

  test('route returns the branch index; a non-integer is a clear error', async () => {
    const r = await post('/route', { data: { ndarray: [[3, 0]] } });
    assert.deepEqual(r.json.data, { names: ['t:0'], ndarray: [[1]] });
    const t = await post('/route', { data: { tensor: { shape: [1, 1], values: [4] } } });
    assert.deepEqual(t.json.data, { names: ['t:0'], tensor: { shape: [1, 1], values: [0] } });
    const bad = await post('/route', { data: { ndarray: [[-1]] } });
    assert.equal(bad.status, 500);
    assert.match(bad.json.status.info, /Routing response must be int but got 'left'/);
  });

  test('aggregate over a list of messages (bare list and SeldonMessageList), meta merged', async () => {
    const list = [
      { data: { ndarray: [[1, 2]] }, meta: { tags: { x: 1 }, requestPath: { m1: 'i1' } } },
      { data: { ndarray: [[3, 6]] }, meta: { tags: { y: 2 }, requestPath: { m2: 'i2' } } },
    ];
    const a = await post('/aggregate', list);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.data, { names: ['a', 'b'], ndarray: [[2, 4]] });
    assert.deepEqual(a.json.meta.requestPath, { m1: 'i1', m2: 'i2', 'unit-a': 'me/everything:1.2' });
    assert.deepEqual(a.json.meta.tags, { x: 1, y: 2, model_tag: 't1' });
    const b = await post('/aggregate', { seldonMessages: list });
    assert.deepEqual(b.json.data.ndarray, [[2, 4]]);
    assert.equal((await post('/aggregate', { data: { ndarray: [1] } })).status, 400);
  });

  test('feedback reaches send_feedback with reward, truth and the routing this unit took', async () => {
    const fb = await post('/api/v1.0/feedback', {
      request: { data: { ndarray: [[1, 2]] } },
      response: { data: { ndarray: [[5, 7]] }, meta: { routing: { 'unit-a': 1 } } },
      truth: { data: { ndarray: [[9, 9]] } },
      reward: 0.5,
    });
    assert.equal(fb.status, 200, fb.text);
    const health = await fetch(`${server.url}/health/status`);
    const body = (await health.json()) as any;
    assert.deepEqual(body.jsonData.feedback.at(-1), { features: [[1, 2]], reward: 0.5, truth: [[9, 9]], routing: 1 });
  });

  test('custom metrics reach Prometheus with Seldon semantics (counter _total, gauge, timer in seconds)', async () => {
    await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] } });
    const text = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    const counter = /^calls_total\{method="predict"[^}]*model_name="unit-a"[^}]*\} (\d+)/m.exec(text);
    assert.ok(counter && Number(counter[1]) >= 1, text);
    assert.match(text, /^gauge_val\{kind="g",method="predict"[^}]*\} 5$/m);
    // TIMER: milliseconds observed as seconds into Seldon's 50 log-spaced buckets (+Inf).
    assert.equal(text.match(/^work_ms_bucket\{[^}]*method="predict"/gm)?.length, 51);
    const count = Number(/^work_ms_count\{[^}]*method="predict"[^}]*\} (\d+)/m.exec(text)?.[1]);
    const sum = Number(/^work_ms_sum\{[^}]*method="predict"[^}]*\} ([\d.]+)/m.exec(text)?.[1]);
    assert.ok(count >= 1 && Math.abs(sum - 0.02 * count) < 1e-9, `count ${count}, sum ${sum}`);
    assert.match(text, /^calls_total\{method="feedback"/m);
    assert.match(text, /^seldon_api_model_feedback_reward_total\{method="feedback"[^}]*\} 0\.5/m);
  });

  test('metadata: init_metadata() with the defaults; V2 metadata has its tensors', async () => {
    const md = (await (await fetch(`${server.url}/api/v1.0/metadata`)).json()) as any;
    assert.equal(md.name, 'everything');
    assert.deepEqual(md.versions, ['v3']);
    assert.deepEqual(md.custom, { author: 'tests' });
    const v2 = (await (await fetch(`${server.url}/v2/models/unit-a`)).json()) as any;
    assert.deepEqual(v2.inputs, [{ name: 'x', datatype: 'FP64', shape: [-1, 2] }]);
  });

  test('user errors: exceptions with their status and body, bad return values, bad metrics; the server keeps serving', async () => {
    const tag = (want: string) => post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] }, meta: { tags: { want } } });
    const fail = await tag('fail');
    assert.equal(fail.status, 500);
    assert.deepEqual(fail.json, { status: { code: -1, info: 'deliberate failure', reason: 'MICROSERVICE_INTERNAL_ERROR', status: 1 } });
    const seldonExc = await tag('seldon_exc');
    assert.equal(seldonExc.status, 409);
    assert.deepEqual(seldonExc.json, { status: { status: 1, info: 'refused by the model', code: -1, reason: 'MICROSERVICE_BAD_DATA' } });
    const custom = await tag('custom_exc');
    assert.equal(custom.status, 422);
    assert.equal(custom.json.extra, 42);
    assert.equal(custom.json.status.reason, 'MY_REASON');
    const none = await tag('none');
    assert.equal(none.status, 400);
    assert.match(none.json.status.info, /Unknown data type returned as payload/);
    const metric = await tag('bad_metric');
    assert.equal(metric.status, 500);
    assert.equal(metric.json.status.reason, 'MICROSERVICE_BAD_METRIC');
    const ok = await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] } });
    assert.equal(ok.status, 200);
  });

  test('gRPC: every service answers as REST does, user errors as gRPC statuses', async () => {
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'predict', call: 'seldon', message: { data: { ndarray: [[1, 2]] } } },
      { id: 'tensor', call: 'seldon', message: { data: { tensor: { shape: [1, 2], values: [1, 2] } } } },
      { id: 'str', call: 'seldon', message: { strData: 'grpc' } },
      { id: 'ti', call: 'seldon', service: 'Transformer', method: 'TransformInput', message: { data: { ndarray: [[1, 2]] } } },
      { id: 'to', call: 'seldon', service: 'OutputTransformer', method: 'TransformOutput', message: { data: { ndarray: [[1, 2]] } } },
      { id: 'route', call: 'seldon', service: 'Router', method: 'Route', message: { data: { ndarray: [[3]] } } },
      { id: 'agg', call: 'aggregate', message: { seldonMessages: [{ data: { ndarray: [[1, 2]] } }, { data: { ndarray: [[3, 4]] } }] } },
      { id: 'fb', call: 'feedback', message: { request: { data: { ndarray: [[7, 7]] } }, reward: 1 } },
      { id: 'md', call: 'seldon_metadata' },
      { id: 'exc', call: 'seldon', message: { data: { ndarray: [[1, 2]] }, meta: { tags: { want: 'seldon_exc' } } } },
      { id: 'fail', call: 'seldon', message: { data: { ndarray: [[1, 2]] }, meta: { tags: { want: 'fail' } } } },
    ]);
    assert.deepEqual(r.predict.data, { names: ['a', 'b'], ndarray: [[5, 7]] });
    assert.deepEqual(r.tensor.data, { names: ['a', 'b'], tensor: { shape: [1, 2], values: [5, 7] } });
    assert.equal(r.str.strData, 'GRPC');
    assert.deepEqual(r.ti.data.ndarray, [[101, 102]]);
    assert.deepEqual(r.to.data.ndarray, [[-1, -2]]);
    assert.deepEqual(r.route.data.ndarray, [[1]]);
    assert.deepEqual(r.agg.data.ndarray, [[2, 3]]);
    assert.ok(r.fb.meta !== undefined || r.fb.data !== undefined, JSON.stringify(r.fb));
    assert.equal(r.md.name, 'everything');
    assert.equal(r.exc.error, 'INVALID_ARGUMENT'); // a 4xx from the user's exception
    assert.equal(r.exc.details, 'refused by the model');
    assert.equal(r.fail.error, 'INTERNAL');
  });

  test('a worker that dies is replaced: the request gets a 503, the next ones are served', async () => {
    const died = await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] }, meta: { tags: { want: 'die' } } });
    assert.equal(died.status, 503);
    assert.match(died.json.status.info, /died/);
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await post('/api/v1.0/predictions', { data: { ndarray: [[1, 2]] } })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200);
    assert.match(server.logs(), /starting a replacement/);
  });
});

describe('raw hooks and the SeldonComponent base class', () => {
  let server: ServerProcess;
  before(async () => {
    const dir = folder({
      'pkg/__init__.py': '',
      'pkg/models.py': `
from seldon_core.user_model import SeldonComponent, SeldonNotImplementedError

class RawModel(SeldonComponent):
    def predict_raw(self, msg):
        if msg.get("strData") == "teapot":
            return {"status": {"code": 418, "info": "short and stout", "status": "FAILURE"}}
        if msg.get("strData") == "fallback":
            raise SeldonNotImplementedError()
        return {"jsonData": {"echo": msg}, "meta": {"metrics": [{"type": "COUNTER", "key": "raw_calls", "value": 2}]}}

    def predict(self, X, names):
        return {"cooked": X}

    def route_raw(self, msg):
        return {"data": {"ndarray": [[-1]]}}

    def aggregate_raw(self, msgs):
        return {"jsonData": {"count": len(msgs["seldonMessages"])}}

    def send_feedback_raw(self, feedback):
        return {"strData": "thanks %s" % feedback.get("reward")}

    def health_status_raw(self):
        return {"strData": "raw health"}
`,
      'Plain.py': `
from seldon_core.user_model import SeldonComponent

class Plain(SeldonComponent):
    def predict(self, X, names):
        return X
`,
    });
    server = await serveCli(['pkg.models.RawModel', '--model-dir', dir]);
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('*_raw hooks get and answer whole messages; a status code in the answer is the HTTP status', async () => {
    const r = await postJson(`${server.url}/api/v1.0/predictions`, { strData: 'x', meta: { puid: 'q' } });
    assert.deepEqual(r.json.jsonData.echo, { strData: 'x', meta: { puid: 'q' } });
    const tea = await postJson(`${server.url}/api/v1.0/predictions`, { strData: 'teapot' });
    assert.equal(tea.status, 418);
    assert.equal(tea.json.status.info, 'short and stout');
    const fallback = await postJson(`${server.url}/api/v1.0/predictions`, { strData: 'fallback' });
    assert.deepEqual(fallback.json.jsonData, { cooked: 'fallback' });
    assert.deepEqual((await postJson(`${server.url}/route`, { data: { ndarray: [1] } })).json.data.ndarray, [[-1]]);
    assert.deepEqual((await postJson(`${server.url}/aggregate`, [{ strData: 'a' }, { strData: 'b' }])).json.jsonData, { count: 2 });
    assert.equal((await postJson(`${server.url}/api/v1.0/feedback`, { reward: 2 })).json.strData, 'thanks 2');
    assert.equal(((await (await fetch(`${server.url}/health/status`)).json()) as any).strData, 'raw health');
    assert.match(await (await fetch(`${server.metricsUrl}/prometheus`)).text(), /^raw_calls_total\{method="predict"[^}]*\} 2/m);
  });

  test('a SeldonComponent subclass without the hooks: identity transforms, "assuming healthy", no router', async () => {
    const dir = /python class pkg\.models\.RawModel from (\S+):/.exec(server.logs())![1];
    const p = await serveCli(['Plain', '--model-dir', dir]);
    try {
      await waitReady(p);
      const ti = await postJson(`${p.url}/transform-input`, { data: { ndarray: [[1, 2]] } });
      assert.deepEqual(ti.json.data.ndarray, [[1, 2]]);
      const h = (await (await fetch(`${p.url}/health/status`)).json()) as any;
      assert.equal(h.strData, 'not implemented - assuming healthy');
      const route = await postJson(`${p.url}/route`, { data: { ndarray: [[1]] } });
      assert.equal(route.status, 501);
    } finally {
      await p.stop();
    }
  });
});

describe('start-up', () => {
  test('a class that is slow to load is not ready until load() returns', async () => {
    const dir = folder({ 'Slow.py': 'import time\nclass Slow:\n    def load(self):\n        time.sleep(3)\n    def predict(self, X, names):\n        return X\n' });
    const server = await serveCli(['Slow', '--model-dir', dir]);
    try {
      const early = await fetch(`${server.url}/health/status`);
      assert.equal(early.status, 503);
      assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 503);
      const started = Date.now();
      await waitReady(server);
      assert.ok(Date.now() - started > 1000);
      assert.equal((await fetch(`${server.url}/health/status`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('MODELFLEET_HTTP_PROCESSES=2: a process still loading takes no share of the port, so no request sees a 503; both serve REST and gRPC', async () => {
    // The second process to load sleeps 4 s; answers carry the PID of the process that served them.
    const dir = folder({
      'Pid.py': `import os, time
class Pid:
    def load(self):
        try:
            os.close(os.open("first", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            time.sleep(4)
    def predict(self, X, names):
        return [[os.getppid()]]
`,
    });
    const server = await serveCli(['Pid', '--model-dir', dir, '--workers', '1'], { MODELFLEET_HTTP_PROCESSES: '2' });
    try {
      await waitReady(server);
      const early = await Promise.all(Array.from({ length: 40 }, () => postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1]] } })));
      assert.deepEqual([...new Set(early.map((r) => r.status))], [200], early.find((r) => r.status !== 200)?.text);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (server.logs().match(/ready in/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 100));
      // New connections are shared among the listening processes (kept-alive ones stay where they are).
      const pids = new Set<number>();
      for (let i = 0; i < 40 && pids.size < 2; i++) pids.add(JSON.parse(await postFresh(`${server.url}/api/v1.0/predictions`, '{"data":{"ndarray":[[1]]}}')).data.ndarray[0][0]);
      assert.equal(pids.size, 2, 'both processes serve once both are loaded');
      // gRPC too: every server process serves the shared gRPC port (each Python client call is a new connection).
      const grpcPids = new Set<number>();
      for (let i = 0; i < 8 && grpcPids.size < 2; i++) {
        const r = await pythonGrpc(server.grpcTarget!, [{ id: 'pid', call: 'seldon', message: { data: { ndarray: [[1]] } } }]);
        grpcPids.add(r.pid.data.ndarray[0][0]);
      }
      assert.deepEqual([...grpcPids].sort(), [...pids].sort(), 'both processes answer gRPC');
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }
  });

  test('a missing module, a missing class and a constructor that rejects its parameters are start-up errors that say so', async () => {
    const dir = folder({ 'Strict.py': 'class Strict:\n    def __init__(self, alpha):\n        self.alpha = alpha\n' });
    const missing = await runToExit([MICROSERVICE], { MODEL_NAME: 'Nope', MODEL_URI: dir, PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0' });
    assert.equal(missing.code, 1);
    assert.match(missing.output, /No module named 'Nope'/);
    const noClass = await runToExit([MICROSERVICE, 'Strict.Other'], { MODEL_URI: dir, PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0' });
    assert.equal(noClass.code, 1);
    assert.match(noClass.output, /has no class Other/);
    const badParam = await runToExit([MICROSERVICE], {
      MODEL_NAME: 'Strict',
      MODEL_URI: dir,
      PREDICTIVE_UNIT_PARAMETERS: params([['beta', '1', 'INT']]),
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
    });
    assert.equal(badParam.code, 1);
    assert.match(badParam.output, /unexpected keyword argument 'beta'/);
    const badType = await runToExit([MICROSERVICE], { MODEL_NAME: 'Strict', MODEL_URI: dir, PREDICTIVE_UNIT_PARAMETERS: params([['alpha', 'x', 'INT']]) });
    assert.equal(badType.code, 2);
    assert.match(badType.output, /parameter "alpha": x is not an INT/);
  });
});
