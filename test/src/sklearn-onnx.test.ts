// SKLEARN_SERVER given a folder with an .onnx file and no pickle serves it with the ONNX engine: outputs named as
// sklearn-onnx names them, `method` choosing between labels and probabilities for Seldon, V2 answering both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from './helpers/models.js';
import { onnxModels, type OnnxModels } from './helpers/onnx-models.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

let models: OnnxModels;
before(async () => {
  models = await onnxModels();
});

for (const method of ['predict_proba', 'predict'] as const) {
  describe(`SKLEARN_SERVER on an .onnx folder, method=${method}`, () => {
    let server: ServerProcess;
    before(async () => {
      server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.sklearn_onnx, '--model-name', 'clf', '--method', method, '--param', 'intra_op_threads=1']);
      await waitReady(server);
    });
    after(async () => {
      assert.equal(await server.stop(), 0, server.logs());
    });

    test('the ONNX engine serves (said in the log and the metadata), with the thread setting applied', async () => {
      assert.match(server.logs(), /serving the ONNX model .*classifier\.onnx with the ONNX engine/);
      assert.match(server.logs(), /intra-op threads 1/);
      const md = (await (await fetch(`${server.url}/v2/models/clf`)).json()) as any;
      assert.equal(md.platform, 'sklearn');
      assert.equal(md.parameters.engine, 'onnx');
      assert.equal(md.parameters.intra_op_threads, 1);
      assert.deepEqual(md.outputs.map((o: any) => o.name), ['output_label', 'output_probability']);
    });

    test('Seldon answers what method asks for; V2 answers both outputs; KServe V1 the labels', async () => {
      const { rows, probabilities, labels } = models.expected.trees;
      const s = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: rows } });
      assert.equal(s.status, 200, s.text);
      if (method === 'predict_proba') assertClose(s.json.data.ndarray, probabilities, 1e-6);
      else assert.deepEqual(s.json.data.ndarray, labels);
      const v = await postJson(`${server.url}/v2/models/clf/infer`, { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [4, 3], data: rows.flat() }] });
      assert.equal(v.status, 200, v.text);
      const byName = Object.fromEntries(v.json.outputs.map((o: any) => [o.name, o]));
      assert.deepEqual(byName.output_label.data, labels);
      assertClose(byName.output_probability.data, probabilities.flat(), 1e-6);
      const k = await postJson(`${server.url}/v1/models/clf:predict`, { instances: rows });
      assert.deepEqual(k.json.predictions, labels);
    });

    test('bad input is a 400 in Seldon shape, and the server still serves', async () => {
      const bad = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [['a', 'b', 'c']] } });
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.json.status.info, /takes FP32 numbers, got BYTES/);
      const ok = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [models.expected.trees.rows[0]] } });
      assert.equal(ok.status, 200);
    });
  });
}
