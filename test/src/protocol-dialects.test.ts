// What real clients send and hostile clients try (issue 16), over real sockets: Python's NaN/Infinity literals on
// the Seldon protocol (answers compared with scikit-learn's own, for a NaN-tolerant model trained here), kserve's
// "id": null, Seldon's answers for feedback / transforms / route / aggregate, and 400s in each protocol's error shape
// for deep nesting, broken percent-encoding, infinite rewards, out-of-range integers and undeclared inputs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { python, pythonJson } from './helpers/python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

// HistGradientBoosting takes NaN as the missing value: the rows below hold NaN in the first feature.
const TRAIN_HGB = `
import json, os, sys
import joblib, numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
out = sys.argv[1]
X, y = load_iris(return_X_y=True)
X = X.copy(); X[::7, 0] = np.nan
m = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
os.makedirs(out, exist_ok=True); joblib.dump(m, os.path.join(out, 'model.joblib'))
rows = np.array([[np.nan, 3.5, 1.4, 0.2], [np.nan, 2.8, 4.8, 1.8], [6.3, 3.3, 6.0, 2.5]])
print(json.dumps({'rows_json': json.dumps(rows.tolist()), 'proba': m.predict_proba(rows).tolist()}))
`;

const SELDON_ERROR = (body: any) => {
  assert.equal(body?.status?.status, 1, JSON.stringify(body));
  assert.equal(body.status.code, -1);
  assert.equal(typeof body.status.info, 'string');
};
const V2_ERROR = (body: any) => assert.equal(typeof body?.error, 'string', JSON.stringify(body));

/** A raw request (paths fetch would normalise, or bodies it would not send as is). */
function raw(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let models: TrainedModels;
let hgb: { dir: string; rows_json: string; proba: number[][] };
let iris: ServerProcess;
let nanModel: ServerProcess;

before(async () => {
  models = await sklearnModels();
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'modelfleet-hgb-')), 'hgb');
  hgb = { dir, ...(await pythonJson<{ rows_json: string; proba: number[][] }>(TRAIN_HGB, ['sklearn', 'joblib'], [dir])) };
  [iris, nanModel] = await Promise.all([
    serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris'], { MODELFLEET_MAX_BODY_SIZE: '2mb', MODELFLEET_MAX_INFLIGHT_BYTES: '2mb' }),
    serveCli(['SKLEARN_SERVER', '--model-uri', dir, '--model-name', 'hgb']),
  ]);
  await Promise.all([waitReady(iris), waitReady(nanModel)]);
});
after(async () => {
  assert.equal(await iris.stop(), 0, iris.logs());
  assert.equal(await nanModel.stop(), 0, nanModel.logs());
});

describe("item 1: Python's NaN / Infinity literals", () => {
  test('Seldon REST JSON body with NaN (as json.dumps writes it) answers what scikit-learn predicts', async () => {
    assert.match(hgb.rows_json, /NaN/); // the body really holds the bare literal
    const r = await postJson(`${nanModel.url}/api/v1.0/predictions`, `{"data":{"ndarray":${hgb.rows_json}}}`);
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, hgb.proba, 1e-9);
  });

  test('the form field json= and multipart carry NaN too', async () => {
    const body = `{"data":{"ndarray":${hgb.rows_json}}}`;
    const form = await postJson(`${nanModel.url}/api/v1.0/predictions`, `json=${encodeURIComponent(body)}`, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 200, form.text);
    assertClose(form.json.data.ndarray, hgb.proba, 1e-9);
    const fd = new FormData();
    fd.append('data', `{"ndarray":${hgb.rows_json}}`);
    const mp = await fetch(`${nanModel.url}/api/v1.0/predictions`, { method: 'POST', body: fd });
    const text = await mp.text();
    assert.equal(mp.status, 200, text);
    assertClose(JSON.parse(text).data.ndarray, hgb.proba, 1e-9);
  });

  test("answers holding NaN / Infinity are written as Python's json writes them (json.loads reads them back)", async () => {
    const r = await raw(iris.url, 'POST', '/transform-input', '{"data":{"ndarray":[[NaN,Infinity,-Infinity,1.5]]}}');
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /\[\[NaN,Infinity,-Infinity,1\.5\]\]/);
    const back = await python('import json,sys; v=json.loads(sys.argv[1]); print(repr(v["data"]["ndarray"]))', [], [r.text]);
    assert.equal(back.trim(), "[[nan, inf, -inf, 1.5]]");
  });

  test('a literal inside a string stays a string; a broken document is still a 400', async () => {
    const r = await raw(iris.url, 'POST', '/transform-input', '{"strData":"NaN Infinity"}');
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).strData, 'NaN Infinity');
    const bad = await raw(iris.url, 'POST', '/api/v1.0/predictions', '{"data":{"ndarray":[[NaN,]]}}');
    assert.equal(bad.status, 400, bad.text);
    SELDON_ERROR(JSON.parse(bad.text));
  });

  test('V2 and KServe V1 refuse the literals with a message that names them', async () => {
    const v2 = await raw(iris.url, 'POST', '/v2/models/iris/infer', '{"inputs":[{"name":"x","datatype":"FP64","shape":[1,4],"data":[NaN,1,2,3]}]}');
    assert.equal(v2.status, 400);
    assert.match(JSON.parse(v2.text).error, /NaN is not a JSON value/);
    const v1 = await raw(iris.url, 'POST', '/v1/models/iris:predict', '{"instances":[[-Infinity,1,2,3]]}');
    assert.equal(v1.status, 400);
    assert.match(JSON.parse(v1.text).error, /-Infinity is not a JSON value/);
  });
});

describe('item 3: "id": null', () => {
  test('is no id: the answer carries a generated one, not "null"', async () => {
    const r = await postJson(`${iris.url}/v2/models/iris/infer`, { id: null, inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[0] }] });
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.id, 'null');
    assert.match(r.json.id, /^[0-9a-f-]{36}$/);
  });
});

describe("item 6: Seldon's answers for the other endpoints", () => {
  test('feedback answers {"data":{"ndarray":[]},"meta":{}}', async () => {
    const r = await postJson(`${iris.url}/api/v1.0/feedback`, { request: { data: { ndarray: [IRIS_ROWS[0]] } }, reward: 1 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { data: { ndarray: [] }, meta: {} });
  });

  test('transform-input / transform-output answers carry names t:0..', async () => {
    for (const p of ['/transform-input', '/transform-output']) {
      const r = await postJson(`${iris.url}${p}`, { data: { ndarray: [[1, 2, 3]] } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data, { names: ['t:0', 't:1', 't:2'], ndarray: [[1, 2, 3]] });
      const named = await postJson(`${iris.url}${p}`, { data: { names: ['a', 'b'], tensor: { shape: [1, 2], values: [1, 2] } } });
      assert.deepEqual(named.json.data, { names: ['a', 'b'], tensor: { shape: [1, 2], values: [1, 2] } });
    }
  });

  test('route and aggregate on a prepackaged server are 400 MICROSERVICE_BAD_DATA', async () => {
    const route = await postJson(`${iris.url}/route`, { data: { ndarray: [[1]] } });
    assert.equal(route.status, 400, route.text);
    assert.equal(route.json.status.reason, 'MICROSERVICE_BAD_DATA');
    const agg = await postJson(`${iris.url}/aggregate`, [{ data: { ndarray: [[1]] } }]);
    assert.equal(agg.status, 400, agg.text);
    assert.equal(agg.json.status.reason, 'MICROSERVICE_BAD_DATA');
  });

  test('meta.routing is not echoed', async () => {
    const r = await postJson(`${iris.url}/api/v1.0/predictions`, { meta: { routing: { r: 1 }, puid: 'p' }, data: { ndarray: [IRIS_ROWS[0]] } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.meta, { puid: 'p' });
  });
});

describe('item 7: hostile documents are 400s in the protocol error shape', () => {
  const deep = (open: string, inner: string, close: string, n = 100_000) => open.repeat(n) + inner + close.repeat(n);
  test('JSON nested 100,000 deep on every protocol', async () => {
    const cases: Array<[string, string, (b: any) => void]> = [
      ['/api/v1.0/predictions', `{"data":{"ndarray":${deep('[', '1', ']')}}}`, SELDON_ERROR],
      ['/api/v1.0/predictions', `{"meta":{"tags":${deep('{"a":', '1', '}')}},"data":{"ndarray":[[1,2,3,4]]}}`, SELDON_ERROR],
      ['/api/v1.0/feedback', `{"request":{"meta":{"tags":${deep('{"a":', '1', '}')}}},"reward":1}`, SELDON_ERROR],
      ['/transform-input', `{"data":{"ndarray":${deep('[', '1', ']')}}}`, SELDON_ERROR],
      ['/v2/models/iris/infer', `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":${deep('[', '1', ']')}}]}`, V2_ERROR],
      ['/v2/models/iris/infer', `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1],"parameters":${deep('{"a":', '1', '}')}}]}`, V2_ERROR],
      ['/v1/models/iris:predict', `{"instances":${deep('[', '1', ']')}}`, V2_ERROR],
    ];
    for (const [p, body, shape] of cases) {
      const r = await raw(iris.url, 'POST', p, body);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
      shape(JSON.parse(r.text));
    }
  });

  test('malformed percent-encoding in a path', async () => {
    for (const p of ['/v2/models/%E0%A4%A/infer', '/v2/models/%E0%A4%A', '/v2/models/%E0%A4%A/ready', '/v1/models/%E0%A4%A:predict', '/v1/models/%E0%A4%A']) {
      const post = p.endsWith('infer') || p.endsWith('predict');
      const r = await raw(iris.url, post ? 'POST' : 'GET', p, post ? '{"inputs":[]}' : undefined);
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.match(JSON.parse(r.text).error, /percent-encoding/);
    }
  });

  test('a negative feedback reward (found by the fuzz test: the reward counter cannot go down) is acknowledged', async () => {
    const r = await raw(iris.url, 'POST', '/api/v1.0/feedback', '{"reward":-5e-324}');
    assert.equal(r.status, 200, r.text);
  });

  test('feedback reward 1e400', async () => {
    const r = await raw(iris.url, 'POST', '/api/v1.0/feedback', '{"reward":1e400}');
    assert.equal(r.status, 400, r.text);
    SELDON_ERROR(JSON.parse(r.text));
    assert.match(JSON.parse(r.text).status.info, /finite/);
  });
});

describe('item 8: V2 values outside their datatype, undeclared inputs', () => {
  const infer = (inputs: unknown[]) => postJson(`${iris.url}/v2/models/iris/infer`, { inputs });
  test('out-of-range and non-integer values, non-booleans in BOOL: 400 naming input, datatype and value', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['INT8', 300, /input a: INT8 value 300 is outside INT8's range \[-128, 127\]/],
      ['UINT8', -1, /input a: UINT8 value -1 is outside/],
      ['INT32', 1.5, /input a: INT32 value 1\.5 is not an integer/],
      ['UINT64', 1e20, /input a: UINT64 value 100000000000000000000 is outside/],
      ['BOOL', 2, /input a: BOOL elements must be true or false, got 2/],
      ['BOOL', 'yes', /input a: BOOL elements must be true or false, got "yes"/],
    ];
    for (const [datatype, bad, message] of cases) {
      const r = await infer([{ name: 'a', datatype, shape: [1, 4], data: [bad, 0, 0, 0].map((v, i) => (i && datatype === 'BOOL' ? false : v)) }]);
      assert.equal(r.status, 400, `${datatype} ${bad}: ${r.text}`);
      assert.match(r.json.error, message);
    }
  });

  test('REST: a second input for a one-input model is named in a 400', async () => {
    const r = await infer([
      { name: 'input-0', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[0] },
      { name: 'extra', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[0] },
    ]);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error, /input "extra" is not an input of model iris/);
  });
});

describe('item 2: Content-Encoding gzip / deflate request bodies', () => {
  test('gzip and deflate bodies on the Seldon, V2 and KServe V1 inference routes and on feedback', async () => {
    const seldon = Buffer.from(JSON.stringify({ data: { ndarray: [IRIS_ROWS[0]] } }));
    // zstd where this Node decodes it (22.15+; the Node 22 CI run covers it).
    const zstd = (zlib as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    const encodings: Array<[string, (b: Buffer) => Buffer]> = [['gzip', gzipSync], ['deflate', deflateSync], ...(zstd ? [['zstd', zstd] as [string, (b: Buffer) => Buffer]] : [])];
    for (const [enc, z] of encodings) {
      const r = await raw(iris.url, 'POST', '/api/v1.0/predictions', z(seldon), { 'content-encoding': enc });
      assert.equal(r.status, 200, `${enc}: ${r.text}`);
      assertClose(JSON.parse(r.text).data.ndarray, [models.expected.iris.predict_proba[0]]);
      const v1 = await raw(iris.url, 'POST', '/v1/models/iris:predict', z(Buffer.from(JSON.stringify({ instances: [IRIS_ROWS[1]] }))), { 'content-encoding': enc });
      assert.equal(v1.status, 200, v1.text);
      const fb = await raw(iris.url, 'POST', '/api/v1.0/feedback', z(Buffer.from('{"reward":1}')), { 'content-encoding': enc });
      assert.equal(fb.status, 200, fb.text);
    }
  });

  test('V2 binary extension: Inference-Header-Content-Length counts the decoded JSON header', async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], parameters: { binary_data_size: 32 } }], outputs: [{ name: 'predict_proba' }] }));
    const body = Buffer.concat([header, Buffer.from(new Float64Array(IRIS_ROWS[2]).buffer)]);
    const r = await raw(iris.url, 'POST', '/v2/models/iris/infer', gzipSync(body), { 'content-encoding': 'gzip', 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 200, r.text);
    assertClose(JSON.parse(r.text).outputs[0].data, models.expected.iris.predict_proba[2]);
  });

  test('a gzip bomb gets 413 (the limit counts decoded bytes); an unknown encoding 415; broken gzip 400', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)); // 50 MiB of spaces in ~50 kB, limit 2 MB
    assert.ok(bomb.length < 2 * 1024 * 1024);
    for (const p of ['/api/v1.0/predictions', '/v2/models/iris/infer', '/api/v1.0/feedback']) {
      const r = await raw(iris.url, 'POST', p, bomb, { 'content-encoding': 'gzip' });
      assert.equal(r.status, 413, `${p}: ${r.text}`);
      // LZW (`compress`): no Node version decodes it (zstd, once the example here, is decoded from Node 22.15 on).
      const lzw = await raw(iris.url, 'POST', p, '{}', { 'content-encoding': 'compress' });
      assert.equal(lzw.status, 415, `${p}: ${lzw.text}`);
      assert.match(lzw.text, /compress|unsupported/);
    }
    const broken = await raw(iris.url, 'POST', '/v2/models/iris/infer', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    assert.equal(broken.status, 400, broken.text);
    V2_ERROR(JSON.parse(broken.text));
    const after = await postJson(`${iris.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    assert.equal(after.status, 200);
  });
});

describe('item 10: a budget for request bytes in flight (MODELFLEET_MAX_INFLIGHT_BYTES)', () => {
  test('a request that would take the bodies in flight past the budget gets 503 with Retry-After, and goes through later', async () => {
    const u = new URL(iris.url);
    const slow = net.connect(Number(u.port), u.hostname);
    slow.on('error', () => undefined);
    slow.resume();
    await new Promise<void>((r) => slow.once('connect', () => r()));
    // 1.5 MB declared, a little sent: the server holds the reservation while the body trickles in.
    slow.write('POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1500000\r\n\r\n{"data":');
    await new Promise((r) => setTimeout(r, 300));
    const big = JSON.stringify({ data: { ndarray: [IRIS_ROWS[0]] }, meta: { tags: { pad: 'x'.repeat(1_000_000) } } });
    const refused = await fetch(`${iris.url}/api/v1.0/predictions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    const text = await refused.text();
    assert.equal(refused.status, 503, text);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(JSON.parse(text).status.info, /MODELFLEET_MAX_INFLIGHT_BYTES/);
    const small = await postJson(`${iris.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    assert.equal(small.status, 200, 'small requests still fit');
    slow.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const later = await fetch(`${iris.url}/api/v1.0/predictions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    assert.equal(later.status, 200, await later.text());
  });
});

describe("item 5 (REST part): KServe's model list and Triton's model configuration", () => {
  test('GET /v2/models lists the model; GET /v2/models/m[/versions/v]/config describes it as Triton does', async () => {
    const list = (await (await fetch(`${iris.url}/v2/models`)).json()) as any;
    assert.deepEqual(list, { models: ['iris'] });
    const md = (await (await fetch(`${iris.url}/v2/models/iris`)).json()) as any;
    for (const p of ['/v2/models/iris/config', '/v2/models/iris/versions/1/config']) {
      const r = await fetch(`${iris.url}${p}`);
      const config = (await r.json()) as any;
      assert.equal(r.status, 200, JSON.stringify(config));
      assert.equal(config.name, 'iris');
      assert.ok(config.max_batch_size > 0, 'the metadata batch dimension is -1');
      assert.deepEqual(config.input, [{ name: md.inputs[0].name, data_type: `TYPE_${md.inputs[0].datatype}`, dims: md.inputs[0].shape.slice(1) }]);
      assert.deepEqual(config.output.map((o: any) => o.name), md.outputs.map((o: any) => o.name));
    }
    const unknown = await fetch(`${iris.url}/v2/models/nope/config`);
    assert.equal(unknown.status, 404);
    const server = (await (await fetch(`${iris.url}/v2`)).json()) as any;
    assert.ok(!server.extensions.includes('statistics'), 'statistics is not advertised: /v2/models/m/stats is not served');
    assert.ok(server.extensions.includes('model_configuration'));
  });
});

describe("item 5 (gRPC part): Triton's ModelConfig RPC", () => {
  test('ModelConfig answers, field for field, what REST /config answers (Python grpcio stubs from our .proto)', async () => {
    const rest = (await (await fetch(`${iris.url}/v2/models/iris/config`)).json()) as any;
    const out = await pythonGrpc(iris.grpcTarget!, [
      { id: 'config', call: 'ModelConfig', name: 'iris' },
      { id: 'versioned', call: 'ModelConfig', name: 'iris', version: '1' },
      { id: 'unknown', call: 'ModelConfig', name: 'nope' },
    ]);
    // proto3 JSON writes int64 dims as strings; the enum by its TYPE_* name.
    const fromRest = {
      name: rest.name,
      platform: rest.platform,
      backend: rest.backend,
      max_batch_size: rest.max_batch_size,
      input: rest.input.map((t: any) => ({ ...t, dims: t.dims.map(String) })),
      output: rest.output.map((t: any) => ({ ...t, dims: t.dims.map(String) })),
    };
    assert.ok(rest.max_batch_size > 0 && rest.input[0].data_type === 'TYPE_FP64', JSON.stringify(rest));
    assert.deepEqual(out.config, { config: fromRest });
    assert.deepEqual(out.versioned, { config: fromRest });
    assert.equal(out.unknown.error, 'NOT_FOUND', JSON.stringify(out.unknown));
  });
});
