// SKLEARN_SERVER over real sockets: every protocol's happy path and error shape, answers compared with what
// scikit-learn itself predicts for the same rows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

for (const engine of ['native', 'python'] as const) describe(`engine=${engine}`, () => suite(engine));

function suite(engine: 'native' | 'python'): void {
  let models: TrainedModels;
  let server: ServerProcess;

  before(async () => {
    models = await sklearnModels();
    server = await serveCli(
      ['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '2', '--param', `engine=${engine}`],
      { MODELFLEET_MAX_BODY_SIZE: '64kb' },
    );
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('the engine asked for is the one serving', async () => {
    const md = (await (await fetch(`${server.url}/v2/models/iris`)).json()) as any;
    assert.equal(md.parameters.engine, engine);
  });

  const predict = (body: unknown) => postJson(`${server.url}/api/v1.0/predictions`, body);
  const infer = (body: unknown, model = 'iris') => postJson(`${server.url}/v2/models/${model}/infer`, body);

  describe('Seldon protocol', () => {
    test("the seed's ndarray example answers sklearn's predict_proba with names t:0..t:2", async () => {
      const r = await predict({ data: { ndarray: [IRIS_ROWS[1]] } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.deepEqual(r.json.data.names, ['t:0', 't:1', 't:2']);
      assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[1]]);
      assert.deepEqual(r.json.meta, {});
    });

    test('a 1-D ndarray of features is one row', async () => {
      const r = await predict({ data: { ndarray: IRIS_ROWS[0] } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.deepEqual(r.json.data.names, ['t:0', 't:1', 't:2']);
      assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[0]]);
    });

    test('a batch in tensor form comes back as a tensor', async () => {
      const r = await predict({ data: { tensor: { shape: [4, 4], values: IRIS_ROWS.flat() } } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.deepEqual(r.json.data.tensor.shape, [4, 3]);
      assertClose(r.json.data.tensor.values, (models.expected.iris.predict_proba as number[][]).flat());
    });

    test('tftensor in, tftensor out', async () => {
      const content = Buffer.from(new Float64Array(IRIS_ROWS.slice(0, 2).flat()).buffer).toString('base64');
      const r = await predict({ data: { tftensor: { dtype: 'DT_DOUBLE', tensorShape: { dim: [{ size: '2' }, { size: '4' }] }, tensorContent: content } } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      const tf = r.json.data.tftensor;
      assert.equal(tf.dtype, 'DT_DOUBLE');
      assert.deepEqual(tf.tensorShape.dim.map((d: { size: string }) => d.size), ['2', '3']);
      const buf = Buffer.from(tf.tensorContent, 'base64');
      const values = Array.from(new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8));
      assertClose(values, (models.expected.iris.predict_proba as number[][]).slice(0, 2).flat());
    });

    test('meta: puid echoed, tags carried', async () => {
      const r = await predict({ meta: { puid: 'abc123', tags: { team: 'ml' } }, data: { ndarray: [IRIS_ROWS[0]] } });
      assert.equal(r.status, 200);
      assert.equal(r.json.meta.puid, 'abc123');
      assert.deepEqual(r.json.meta.tags, { team: 'ml' });
    });

    test('every prediction path, the form field and the GET query arg', async () => {
      const body = JSON.stringify({ data: { ndarray: [IRIS_ROWS[2]] } });
      for (const p of ['/predict', '/api/v0.1/predictions', '/api/v1.0/predictions']) {
        const r = await postJson(`${server.url}${p}`, body);
        assert.equal(r.status, 200, `${p}: ${r.text}`);
        assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[2]]);
      }
      const form = await fetch(`${server.url}/api/v1.0/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ json: body }).toString(),
      });
      assert.equal(form.status, 200);
      assertClose(((await form.json()) as any).data.ndarray, [models.expected.iris.predict_proba[2]]);
      const get = await fetch(`${server.url}/predict?json=${encodeURIComponent(body)}`);
      assert.equal(get.status, 200);
      assertClose(((await get.json()) as any).data.ndarray, [models.expected.iris.predict_proba[2]]);
      // curl -d without -H sends a form content type with a JSON body: taken as JSON.
      const curlish = await fetch(`${server.url}/api/v1.0/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      assert.equal(curlish.status, 200);
    });

    test('multipart/form-data: each field is JSON; one that is not is a 400', async () => {
    const form = new FormData();
    form.append('data', JSON.stringify({ ndarray: [IRIS_ROWS[3]] }));
    form.append('meta', JSON.stringify({ puid: 'mp-1' }));
    const r = await fetch(`${server.url}/api/v1.0/predictions`, { method: 'POST', body: form });
    assert.equal(r.status, 200);
    const body = (await r.json()) as any;
    assertClose(body.data.ndarray, [models.expected.iris.predict_proba[3]]);
    assert.equal(body.meta.puid, 'mp-1');
    const bad = new FormData();
    bad.append('data', '{not json');
    const b = await fetch(`${server.url}/api/v1.0/predictions`, { method: 'POST', body: bad });
    assert.equal(b.status, 400);
    assert.match(((await b.json()) as any).status.info, /multipart field "data" is not JSON/);
  });

  test('feedback is acknowledged and counted', async () => {
      const r = await postJson(`${server.url}/api/v1.0/feedback`, { request: { data: { ndarray: [IRIS_ROWS[0]] } }, reward: 1.5 });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.deepEqual(r.json.data, { ndarray: [] }); // as Seldon's prepackaged servers answer
      const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
      assert.match(metrics, /seldon_api_model_feedback_reward_total\{[^}]*\} 1\.5/);
    });

    test('health and metadata', async () => {
      const ping = await fetch(`${server.url}/health/ping`);
      assert.equal(await ping.text(), 'pong');
      for (const p of ['/health/status', '/api/v1.0/health/status']) assert.equal((await fetch(`${server.url}${p}`)).status, 200);
      for (const p of ['/metadata', '/api/v1.0/metadata']) {
        const md = (await (await fetch(`${server.url}${p}`)).json()) as any;
        assert.equal(md.name, 'iris');
        assert.equal(md.platform, 'sklearn');
        assert.deepEqual(md.inputs[0].shape, [-1, 4]);
        assert.equal(md.custom.estimator, 'LogisticRegression');
      }
    });
  });

  describe('Seldon protocol errors, and the server keeps serving', () => {
    const cases: Array<[string, string | object, RegExp]> = [
      ['malformed JSON', '{"data": {"ndarray": [[1,2', /Invalid JSON/],
      ['wrong feature count', { data: { ndarray: [[1, 2, 3]] } }, /expected 4 features per row, got 3/],
      ['strings in a numeric model', { data: { ndarray: [['a', 'b', 'c', 'd']] } }, /could not convert string to float|takes numbers, got BYTES/],
      ['empty body', '', /empty request body/],
      ['ragged ndarray', { data: { ndarray: [[1, 2, 3, 4], [1, 2]] } }, /not rectangular/],
      ['tensor shape/values mismatch', { data: { tensor: { shape: [1, 4], values: [1, 2, 3] } } }, /holds 4 values, got 3/],
      ['no data', { meta: {} }, /Invalid request data type/],
      ['strData to a numeric model', { strData: 'hello' }, /Invalid request data type/],
    ];
    for (const [name, body, message] of cases) {
      test(name, async () => {
        const r = await predict(body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.status.code, -1);
        assert.equal(r.json.status.status, 1);
        assert.equal(r.json.status.reason, 'MICROSERVICE_BAD_DATA');
        assert.match(r.json.status.info, message);
      });
    }

    test('a body over the configured limit is a 413 in Seldon shape', async () => {
      const rows = Array.from({ length: 5000 }, () => IRIS_ROWS[0]);
      const r = await predict({ data: { ndarray: rows } });
      assert.equal(r.status, 413, r.text.slice(0, 300));
      assert.equal(r.json.status.reason, 'MICROSERVICE_BAD_DATA');
      assert.match(r.json.status.info, /exceeds the limit of 65536 bytes/);
    });

    test('after all of that, predictions are still right', async () => {
      const r = await predict({ data: { ndarray: IRIS_ROWS } });
      assert.equal(r.status, 200);
      assertClose(r.json.data.ndarray, models.expected.iris.predict_proba);
    });
  });

  describe('batching of concurrent requests', () => {
    test('each of 200 concurrent requests gets its own rows back; a NaN row fails alone', async () => {
      // Queued requests share Python calls; a batch with a bad request is retried one by one.
      const sends = Array.from({ length: 200 }, (_, i) => {
        if (i % 23 === 5) return predict({ data: { ndarray: [[null, 1, 2, 3]] } }).then((r) => ({ i, r, bad: true }));
        const rows = [IRIS_ROWS[i % 4], IRIS_ROWS[(i + 1) % 4]];
        return predict({ data: { ndarray: rows } }).then((r) => ({ i, r, bad: false }));
      });
      for (const { i, r, bad } of await Promise.all(sends)) {
        if (bad) {
          assert.equal(r.status, 400, r.text);
          assert.match(r.json.status.info, /NaN/);
          continue;
        }
        assert.equal(r.status, 200, r.text);
        const expected = models.expected.iris.predict_proba as number[][];
        assertClose(r.json.data.ndarray, [expected[i % 4], expected[(i + 1) % 4]]);
      }
    });
  });

  describe('V2 Open Inference Protocol', () => {
    test('FP64 input: predict by default, predict_proba when asked, id echoed', async () => {
      const input = { name: 'input-0', shape: [4, 4], datatype: 'FP64', data: IRIS_ROWS.flat() };
      const def = await infer({ id: 'req-1', inputs: [input] });
      assert.equal(def.status, 200, def.text);
      assert.equal(def.json.id, 'req-1');
      assert.equal(def.json.model_name, 'iris');
      assert.deepEqual(def.json.outputs.map((o: any) => o.name), ['predict']);
      assert.equal(def.json.outputs[0].datatype, 'INT64');
      assert.deepEqual(def.json.outputs[0].data, models.expected.iris.predict);
      const both = await infer({ inputs: [input], outputs: [{ name: 'predict_proba' }, { name: 'decision_function' }] });
      assert.equal(both.status, 200, both.text);
      assert.match(both.json.id, /^[0-9a-f-]{36}$/);
      const [proba, dec] = both.json.outputs;
      assert.deepEqual(proba.shape, [4, 3]);
      assertClose(proba.data, (models.expected.iris.predict_proba as number[][]).flat());
      assertClose(dec.data, (models.expected.iris.decision_function as number[][]).flat());
    });

    test('FP32 input is computed on float32 values, nested data accepted', async () => {
      const r = await infer({ inputs: [{ name: 'x', shape: [4, 4], datatype: 'FP32', data: IRIS_ROWS }], outputs: [{ name: 'predict_proba' }] });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assertClose(r.json.outputs[0].data, (models.expected.iris.predict_proba_f32 as number[][]).flat(), 1e-9);
    });

    test('binary tensor extension: raw FP32 in, raw FP64 out', async () => {
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'x', shape: [4, 4], datatype: 'FP32', parameters: { binary_data_size: 64 } }],
          outputs: [{ name: 'predict_proba', parameters: { binary_data: true } }],
        }),
      );
      const raw = Buffer.from(new Float32Array(IRIS_ROWS.flat()).buffer);
      const res = await fetch(`${server.url}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
        body: Buffer.concat([header, raw]),
      });
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      const hl = Number(res.headers.get('inference-header-content-length'));
      const json = JSON.parse(body.subarray(0, hl).toString());
      assert.equal(json.outputs[0].parameters.binary_data_size, 96);
      const out = body.subarray(hl);
      const values = Array.from(new Float64Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length)));
      assertClose(values, (models.expected.iris.predict_proba_f32 as number[][]).flat(), 1e-9);
    });

    test('health, server and model metadata, versions path', async () => {
      assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200);
      assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 200);
      assert.equal((await fetch(`${server.url}/v2/models/iris/ready`)).status, 200);
      const meta = (await (await fetch(`${server.url}/v2`)).json()) as any;
      assert.equal(meta.name, 'modelfleet');
      assert.ok(meta.extensions.includes('binary_tensor_data'));
      const md = (await (await fetch(`${server.url}/v2/models/iris`)).json()) as any;
      assert.deepEqual(md.outputs.map((o: any) => o.name), ['predict', 'predict_proba', 'decision_function']);
      const v = await infer({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: IRIS_ROWS[0] }] }, 'iris/versions/1');
      assert.equal(v.status, 200, v.text);
    });

    const errors: Array<[string, object | string, number, RegExp, string?]> = [
      ['unknown model', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: IRIS_ROWS[0] }] }, 404, /Model nope not found/, 'nope'],
      ['unknown output', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: IRIS_ROWS[0] }], outputs: [{ name: 'explain' }] }, 400, /no output "explain"/],
      ['shape/data mismatch', { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP64', data: IRIS_ROWS[0] }] }, 400, /needs 8 elements, got 4/],
      ['bad datatype', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FLOAT', data: IRIS_ROWS[0] }] }, 400, /unknown datatype/],
      ['strings in FP64', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: ['a', 'b', 'c', 'd'] }] }, 400, /must be numbers/],
      ['no inputs', { inputs: [] }, 400, /non-empty list/],
      ['malformed JSON', '{"inputs": [', 400, /invalid JSON/],
    ];
    for (const [name, body, status, message, model] of errors) {
      test(`error: ${name}`, async () => {
        const r = await infer(body, model);
        assert.equal(r.status, status, r.text);
        assert.match(r.json.error, message);
      });
    }
  });

  describe('KServe V1', () => {
    test('instances -> predictions (predict), model ready', async () => {
      const r = await postJson(`${server.url}/v1/models/iris:predict`, { instances: IRIS_ROWS });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.deepEqual(r.json.predictions, models.expected.iris.predict);
      const ready = (await (await fetch(`${server.url}/v1/models/iris`)).json()) as any;
      assert.deepEqual(ready, { name: 'iris', ready: true });
    });

    test('errors are {"error": ...}', async () => {
      const r = await postJson(`${server.url}/v1/models/iris:predict`, { instances: 'nope' });
      assert.equal(r.status, 400);
      assert.match(r.json.error, /Expected "instances" to be a list/);
    });
  });

  describe('metrics', () => {
    test('request counters move and carry protocol, endpoint and code', async () => {
      const scrape = async () => (await fetch(`${server.metricsUrl}/prometheus`)).text();
      const count = (text: string) => {
        const m = /modelfleet_requests_total\{[^}]*protocol="seldon",endpoint="predictions",code="200"[^}]*\} (\d+)/.exec(text);
        return m ? Number(m[1]) : 0;
      };
      const before = count(await scrape());
      for (let i = 0; i < 3; i++) await predict({ data: { ndarray: [IRIS_ROWS[0]] } });
      const text = await scrape();
      assert.equal(count(text), before + 3);
      assert.match(text, /modelfleet_request_duration_seconds_bucket\{/);
      assert.match(text, /process_cpu_seconds_total/);
      assert.equal((await fetch(`${server.metricsUrl}/metrics`)).status, 200);
    });
  });

  describe('docs', () => {
    test('OpenAPI and Swagger UI are served offline', async () => {
      const spec = (await (await fetch(`${server.url}/api/v1.0/doc/openapi.json`)).json()) as any;
      assert.equal(spec.openapi, '3.0.3');
      assert.ok(spec.paths['/v2/models/{model}/infer']);
      const ui = await fetch(`${server.url}/api/v1.0/doc/`);
      assert.match(await ui.text(), /SwaggerUIBundle/);
      assert.equal((await fetch(`${server.url}/api/v1.0/doc/swagger-ui-bundle.js`)).status, 200);
      assert.equal((await fetch(`${server.url}/v2/docs/`)).status, 200);
    });
  });
}
