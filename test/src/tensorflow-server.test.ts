// TENSORFLOW_SERVER's proxy and SavedModel ways. TF Serving cannot be installed here, so the proxy is tested
// against a local HTTP server implementing TF Serving's documented REST predict API (helpers/fake-tfserving.ts);
// its errors, and a TF Serving that is down, must come back in each caller protocol's error shape. The ONNX way is
// covered in onnx-engine.test.ts (every model there is served by TENSORFLOW_SERVER).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose } from './helpers/models.js';
import { startFakeTfServing, type FakeTfServing } from './helpers/fake-tfserving.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { CLI, postJson, runToExit, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const ROWS = [
  [1, 2, 3],
  [0.5, -4, 0.25],
  [7, 1, 2],
];
// What the stand-in's signature computes, worked out here from the rows.
const TOTALS = ROWS.map((r) => Math.fround(2 * (r[0] + r[1] + r[2])));
const ARGMAX = ROWS.map((r) => r.indexOf(Math.max(...r)));

describe('proxy to TF Serving (row format)', () => {
  let tf: FakeTfServing;
  let server: ServerProcess;
  const predict = (body: unknown) => postJson(`${server.url}/api/v1.0/predictions`, body);
  const infer = (body: unknown) => postJson(`${server.url}/v2/models/tfmodel/infer`, body);

  before(async () => {
    tf = await startFakeTfServing('half_plus');
    // No model_uri: the model lives in TF Serving.
    server = await serveCli(['TENSORFLOW_SERVER', '--model-name', 'tfmodel', '--param', `rest_endpoint=${tf.url}`, '--param', 'model_name=half_plus']);
    await waitReady(server);
  });
  after(async () => {
    const code = await server.stop();
    await tf.close().catch(() => {});
    assert.equal(code, 0, server.logs());
  });

  test('the log says the proxy serves; metadata is the TF signature', async () => {
    assert.match(server.logs(), /serving by proxying to TF Serving at http:\/\/127\.0\.0\.1:\d+/);
    const md = (await (await fetch(`${server.url}/v2/models/tfmodel`)).json()) as any;
    assert.equal(md.parameters.engine, 'tfserving-proxy');
    assert.deepEqual(md.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }]);
    assert.deepEqual(md.outputs.map((o: any) => [o.name, o.datatype]), [['total', 'FP32'], ['argmax', 'INT64']]);
  });

  test('Seldon ndarray becomes {"instances", "signature_name"}; the first output comes back', async () => {
    tf.requests.length = 0;
    const r = await predict({ data: { ndarray: ROWS }, meta: { puid: 'p1' } });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, TOTALS);
    assert.equal(r.json.meta.puid, 'p1');
    assert.deepEqual(tf.requests[0].body, { signature_name: 'serving_default', instances: ROWS });
    assert.equal(tf.requests[0].path, '/v1/models/half_plus:predict');
  });

  test('V2 by input name: instances as {x: row}; every output, typed by the signature', async () => {
    tf.requests.length = 0;
    const r = await infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 3], data: ROWS.flat() }] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(tf.requests[0].body.instances, ROWS.map((x) => ({ x })));
    const byName = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.total, { name: 'total', datatype: 'FP32', shape: [3], data: TOTALS });
    assert.deepEqual(byName.argmax, { name: 'argmax', datatype: 'INT64', shape: [3], data: ARGMAX });
    const one = await infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 3], data: ROWS.flat() }], outputs: [{ name: 'argmax' }] });
    assert.deepEqual(one.json.outputs.map((o: any) => o.name), ['argmax']);
  });

  test('KServe V1 and gRPC (Seldon and V2) go through too', async () => {
    const k = await postJson(`${server.url}/v1/models/tfmodel:predict`, { instances: ROWS });
    assert.equal(k.status, 200, k.text);
    assertClose(k.json.predictions, TOTALS);
    const g = await pythonGrpc(server.grpcTarget!, [
      { id: 'seldon', call: 'seldon', message: { data: { ndarray: ROWS } } },
      { id: 'v2', call: 'infer', request: { model_name: 'tfmodel', inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 3], contents: { fp32_contents: ROWS.flat() } }] } },
    ]);
    assertClose(g.seldon.data.ndarray, TOTALS);
    const byName = Object.fromEntries(g.v2.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.argmax.contents.int64_contents.map(Number), ARGMAX);
  });

  test("TF Serving's error bodies come back as each protocol's error", async () => {
    const s = await predict({ data: { ndarray: [[1, 2]] } });
    assert.equal(s.status, 400, s.text);
    assert.equal(s.json.status.status, 1);
    assert.match(s.json.status.info, /TF Serving: Matrix size-incompatible/);
    const v = await infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    assert.equal(v.status, 400);
    assert.match(v.json.error, /TF Serving: Matrix size-incompatible/);
    const g = await pythonGrpc(server.grpcTarget!, [{ id: 'bad', call: 'seldon', message: { data: { ndarray: [[1, 2]] } } }]);
    assert.equal(g.bad.error, 'INVALID_ARGUMENT');
    assert.match(g.bad.details, /Matrix size-incompatible/);
  });

  test('TF Serving down: 503 / UNAVAILABLE naming it, the server keeps serving, and recovers when TF is back', async () => {
    const port = tf.port;
    await tf.close();
    const s = await predict({ data: { ndarray: ROWS } });
    assert.equal(s.status, 503, s.text);
    assert.match(s.json.status.info, /TF Serving at http:\/\/127\.0\.0\.1:\d+ is not reachable \(ECONNREFUSED\)/);
    const v = await infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 3], data: ROWS.flat() }] });
    assert.equal(v.status, 503);
    assert.match(v.json.error, /not reachable/);
    const g = await pythonGrpc(server.grpcTarget!, [{ id: 'down', call: 'seldon', message: { data: { ndarray: ROWS } } }]);
    assert.equal(g.down.error, 'UNAVAILABLE');
    assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200);
    tf = await startFakeTfServing('half_plus', port);
    const back = await predict({ data: { ndarray: ROWS } });
    assert.equal(back.status, 200, back.text);
    assertClose(back.json.data.ndarray, TOTALS);
  });
});

describe('proxy to TF Serving (columnar format, model_input, model_output)', () => {
  let tf: FakeTfServing;
  let server: ServerProcess;

  before(async () => {
    tf = await startFakeTfServing('m');
    server = await serveCli([
      'TENSORFLOW_SERVER', '--model-name', 'm',
      '--param', `rest_endpoint=${tf.url}`, '--param', 'tfserving_format=columnar',
      '--param', 'model_input=x', '--param', 'model_output=argmax',
    ]);
    await waitReady(server);
  });
  after(async () => {
    const code = await server.stop();
    await tf.close();
    assert.equal(code, 0, server.logs());
  });

  test('the request goes as {"inputs": {x: ...}} and only model_output comes back, in every protocol', async () => {
    tf.requests.length = 0;
    const s = await postJson(`${server.url}/api/v1.0/predictions`, { data: { tensor: { shape: [3, 3], values: ROWS.flat() } } });
    assert.equal(s.status, 200, s.text);
    assert.deepEqual(s.json.data.tensor.values, ARGMAX);
    assert.deepEqual(tf.requests[0].body, { signature_name: 'serving_default', inputs: { x: ROWS } });
    const v = await postJson(`${server.url}/v2/models/m/infer`, { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [3, 3], data: ROWS.flat() }] });
    assert.equal(v.status, 200, v.text);
    assert.deepEqual(v.json.outputs, [{ name: 'argmax', datatype: 'INT64', shape: [3], data: ARGMAX }]);
  });
});

describe('proxy configuration errors', () => {
  test("a signature TF Serving does not have is TF's 400, passed on", async () => {
    const tf = await startFakeTfServing('m');
    const server = await serveCli(['TENSORFLOW_SERVER', '--model-name', 'm', '--param', `rest_endpoint=${tf.url}`, '--param', 'signature_name=nope']);
    try {
      await waitReady(server);
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: ROWS } });
      assert.equal(r.status, 400);
      assert.match(r.json.status.info, /Serving signature name: "nope" not found/);
    } finally {
      await server.stop();
      await tf.close();
    }
  });
});

describe('SavedModel through Python', () => {
  const serve = (dir: string) =>
    runToExit([CLI, 'serve', 'TENSORFLOW_SERVER', '--model-uri', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1']);

  test('without TensorFlow: a start-up error that says so and names the other two ways', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-savedmodel-'));
    writeFileSync(path.join(dir, 'saved_model.pb'), Buffer.from([0x08, 0x01]));
    mkdirSync(path.join(dir, 'variables'));
    const { code, output } = await serve(dir);
    assert.notEqual(code, 0, output);
    assert.match(output, /is a TensorFlow SavedModel, but no Python interpreter here can import tensorflow/);
    assert.match(output, /cannot import tensorflow/);
    assert.match(output, /model\.onnx/);
    assert.match(output, /rest_endpoint/);
  });

  test('a folder with none of the three: the error lists them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-empty-'));
    const { code, output } = await serve(dir);
    assert.notEqual(code, 0, output);
    assert.match(output, /nothing to serve in .*: put an ONNX export \(model\.onnx\).*set rest_endpoint.*SavedModel folder/);
  });
});
