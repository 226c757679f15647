// The ONNX engine over real sockets: torch-exported MLP and CNN compared with torch's own outputs, ai.onnx.ml trees
// (+ZipMap), strings, named inputs and every element type; Seldon REST, V2 REST (JSON and binary), KServe V1 and
// gRPC through Python's grpcio; bad input answered in each protocol's error shape while the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from './helpers/models.js';
import { onnxModels, type OnnxModels } from './helpers/onnx-models.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

// float32 model, float64 JSON: torch and onnxruntime may order float sums differently.
const F32 = 1e-5;

let models: OnnxModels;
const servers: Record<string, ServerProcess> = {};

before(async () => {
  models = await onnxModels();
  const names = ['mlp', 'cnn', 'trees', 'trees_str', 'strings', 'two_inputs', 'types'] as const;
  // Requests this small run inline; the *_pool servers send every request to worker threads (budget 0).
  const specs: Array<[string, string, Record<string, string>]> = [
    ...names.map((n): [string, string, Record<string, string>] => [n, n, {}]),
    ['cnn_pool', 'cnn', { MODELFLEET_INLINE_BUDGET_US: '0', MODELFLEET_WORKERS: '2' }],
    ['types_pool', 'types', { MODELFLEET_INLINE_BUDGET_US: '0' }],
  ];
  // allSettled: every server is known (and stopped by after()) even when one fails to start.
  const started = await Promise.allSettled(
    specs.map(async ([key, model, env]) => {
      servers[key] = await serveCli(['TENSORFLOW_SERVER', '--model-uri', models.paths[model as keyof OnnxModels['paths']], '--model-name', model], env);
      await waitReady(servers[key]);
    }),
  );
  for (const s of started) if (s.status === 'rejected') throw s.reason;
});
after(async () => {
  // Stop every server before asserting, so one failure does not leave the others running.
  const codes = await Promise.all(Object.values(servers).map(async (s) => [await s.stop(), s] as const));
  for (const [code, s] of codes) assert.equal(code, 0, s.logs());
});

const seldon = (key: string, body: unknown) => postJson(`${servers[key].url}/api/v1.0/predictions`, body);
const v2 = (key: string, body: unknown) => postJson(`${servers[key].url}/v2/models/${key.replace(/_pool$/, '')}/infer`, body);

describe('torch MLP', () => {
  test('the log says the ONNX engine serves, and metadata comes from the session', async () => {
    assert.match(servers.mlp.logs(), /with the ONNX engine/);
    const md = (await (await fetch(`${servers.mlp.url}/v2/models/mlp`)).json()) as any;
    assert.equal(md.platform, 'tensorflow');
    assert.equal(md.parameters.engine, 'onnx');
    assert.deepEqual(md.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 6] }]);
    assert.deepEqual(md.outputs, [{ name: 'scores', datatype: 'FP32', shape: [-1, 3] }]);
  });

  test('Seldon ndarray and tensor answer what torch computes', async () => {
    const { rows, scores } = models.expected.mlp;
    const r = await seldon('mlp', { data: { ndarray: rows } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.names, ['t:0', 't:1', 't:2']);
    assertClose(r.json.data.ndarray, scores, F32);
    const t = await seldon('mlp', { data: { tensor: { shape: [5, 6], values: rows.flat() } } });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(t.json.data.tensor.shape, [5, 3]);
    assertClose(t.json.data.tensor.values, scores.flat(), F32);
    const one = await seldon('mlp', { data: { ndarray: rows[2] } });
    assertClose(one.json.data.ndarray, [scores[2]], F32);
  });

  test('V2 JSON, by input name, and KServe V1', async () => {
    const { rows, scores } = models.expected.mlp;
    const r = await v2('mlp', { inputs: [{ name: 'features', datatype: 'FP32', shape: [5, 6], data: rows.flat() }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.outputs[0].name, 'scores');
    assert.equal(r.json.outputs[0].datatype, 'FP32');
    assert.deepEqual(r.json.outputs[0].shape, [5, 3]);
    assertClose(r.json.outputs[0].data, scores.flat(), F32);
    const k = await postJson(`${servers.mlp.url}/v1/models/mlp:predict`, { instances: rows });
    assert.equal(k.status, 200, k.text);
    assertClose(k.json.predictions, scores, F32);
  });

  test('V2 binary tensor extension: raw FP32 in, raw FP32 out', async () => {
    const { rows, scores } = models.expected.mlp;
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'features', shape: [5, 6], datatype: 'FP32', parameters: { binary_data_size: 120 } }],
        outputs: [{ name: 'scores', parameters: { binary_data: true } }],
      }),
    );
    const res = await fetch(`${servers.mlp.url}/v2/models/mlp/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(new Float32Array(rows.flat()).buffer)]),
    });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    const hl = Number(res.headers.get('inference-header-content-length'));
    const json = JSON.parse(body.subarray(0, hl).toString());
    assert.equal(json.outputs[0].parameters.binary_data_size, 60);
    const raw = body.subarray(hl);
    assertClose(Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))), scores.flat(), F32);
  });

  test('gRPC: Seldon Predict and V2 ModelInfer (raw contents) from Python grpcio', async () => {
    const { rows, scores } = models.expected.mlp;
    const raw = Buffer.from(new Float32Array(rows.flat()).buffer).toString('base64');
    const r = await pythonGrpc(servers.mlp.grpcTarget!, [
      { id: 'seldon', call: 'seldon', message: { data: { ndarray: rows } } },
      { id: 'v2', call: 'infer', request: { model_name: 'mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [5, 6], contents: { fp32_contents: rows.flat() } }] } },
      { id: 'raw', call: 'infer', request: { model_name: 'mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [5, 6] }] }, raw: [raw] },
      { id: 'md', call: 'ModelMetadata', name: 'mlp' },
    ]);
    assertClose(r.seldon.data.ndarray, scores, F32);
    const fromContents = r.v2.outputs[0].contents?.fp32_contents ?? decodeRaw(r.v2.raw_output_contents?.[0]);
    assertClose(fromContents, scores.flat(), F32);
    assertClose(decodeRaw(r.raw.raw_output_contents?.[0]) ?? r.raw.outputs[0].contents.fp32_contents, scores.flat(), F32);
    assert.deepEqual(r.md.inputs[0].shape.map(Number), [-1, 6]);
  });

  test('bad input: wrong feature count and strings, in each protocol, then it still serves', async () => {
    const bad = await seldon('mlp', { data: { ndarray: [[1, 2, 3]] } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.status.status, 1);
    assert.match(bad.json.status.info, /invalid dimensions|Expected: 6/);
    const str = await v2('mlp', { inputs: [{ name: 'features', datatype: 'BYTES', shape: [1, 6], data: ['a', 'b', 'c', 'd', 'e', 'f'] }] });
    assert.equal(str.status, 400, str.text);
    assert.match(str.json.error, /takes FP32 numbers, got BYTES/);
    const out = await v2('mlp', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 6], data: [1, 2, 3, 4, 5, 6] }], outputs: [{ name: 'nope' }] });
    assert.equal(out.status, 400);
    assert.match(out.json.error, /no output "nope"; available: scores/);
    const g = await pythonGrpc(servers.mlp.grpcTarget!, [
      { id: 'bad', call: 'infer', request: { model_name: 'mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }] } },
      { id: 'seldonBad', call: 'seldon', message: { data: { ndarray: [[1]] } } },
    ]);
    assert.equal(g.bad.error, 'INVALID_ARGUMENT');
    assert.equal(g.seldonBad.error, 'INVALID_ARGUMENT');
    const ok = await seldon('mlp', { data: { ndarray: [models.expected.mlp.rows[0]] } });
    assert.equal(ok.status, 200);
    assertClose(ok.json.data.ndarray, [models.expected.mlp.scores[0]], F32);
  });
});

function decodeRaw(b64: string | undefined): number[] | undefined {
  if (!b64) return undefined;
  const b = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
}

describe('torch CNN', () => {
  test('nested [N, 1, 8, 8] images over Seldon and V2 answer what torch computes', async () => {
    const { images, logits } = models.expected.cnn;
    const r = await seldon('cnn', { data: { ndarray: images } });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, logits, F32);
    const v = await v2('cnn', { inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 1, 8, 8], data: images.flat(3) }] });
    assert.equal(v.status, 200, v.text);
    assertClose(v.json.outputs[0].data, logits.flat(), F32);
  });

  test('flat rows of 64 pixels are reshaped to the model\'s [N, 1, 8, 8]', async () => {
    const { images, logits } = models.expected.cnn;
    const r = await seldon('cnn', { data: { ndarray: images.map((im) => im.flat(2)) } });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, logits, F32);
    const bad = await seldon('cnn', { data: { ndarray: [[1, 2, 3]] } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.status.info, /do not fill whole rows of 64/);
  });

  test('gRPC V2 with FP32 contents', async () => {
    const { images, logits } = models.expected.cnn;
    const r = await pythonGrpc(servers.cnn.grpcTarget!, [
      { id: 'v2', call: 'infer', request: { model_name: 'cnn', inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 1, 8, 8], contents: { fp32_contents: images.flat(3) } }] } },
    ]);
    assertClose(r.v2.outputs[0].contents?.fp32_contents ?? decodeRaw(r.v2.raw_output_contents?.[0]), logits.flat(), F32);
  });
});

describe('worker threads (every request off the event loop)', () => {
  test('the CNN in worker threads answers what torch computes; its errors are still 400s', async () => {
    assert.match(servers.cnn_pool.logs(), /requests up to 0 rows run inline, larger ones on 2 worker thread\(s\)/);
    const { images, logits } = models.expected.cnn;
    const r = await seldon('cnn_pool', { data: { ndarray: images } });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, logits, F32);
    const bad = await v2('cnn_pool', { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 4, 4], data: new Array(16).fill(1) }] });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error, /invalid dimensions/);
    const md = (await (await fetch(`${servers.cnn_pool.url}/v2/models/cnn`)).json()) as any;
    assert.equal(md.parameters.session_runs, 0, 'no request ran on the event loop');
  });
});

describe('ai.onnx.ml tree ensemble with ZipMap', () => {
  test('ZipMap is served as a [N, 3] probability tensor; labels are the class labels', async () => {
    const { rows, probabilities, labels, classes } = models.expected.trees;
    assert.match(servers.trees.logs(), /ZipMap output probabilities is served as a \[N, 3\] probability tensor/);
    const r = await v2('trees', { inputs: [{ name: 'X', datatype: 'FP32', shape: [4, 3], data: rows.flat() }] });
    assert.equal(r.status, 200, r.text);
    const byName = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.label.data, labels);
    assert.equal(byName.label.datatype, 'INT64');
    assert.deepEqual(byName.probabilities.shape, [4, 3]);
    assertClose(byName.probabilities.data, probabilities.flat(), 1e-6);
    const md = (await (await fetch(`${servers.trees.url}/v2/models/trees`)).json()) as any;
    assert.deepEqual(md.outputs[1], { name: 'probabilities', datatype: 'FP32', shape: [-1, 3], parameters: { labels: classes } });
  });

  test('Seldon answers the first output (labels); V2 can ask for the probabilities alone', async () => {
    const { rows, probabilities, labels } = models.expected.trees;
    const r = await seldon('trees', { data: { ndarray: rows } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.ndarray, labels);
    const p = await v2('trees', { inputs: [{ name: 'X', datatype: 'FP64', shape: [4, 3], data: rows.flat() }], outputs: [{ name: 'probabilities' }] });
    assert.equal(p.json.outputs.length, 1);
    assertClose(p.json.outputs[0].data, probabilities.flat(), 1e-6);
  });
});

describe('ai.onnx.ml tree ensemble with string class labels', () => {
  test('labels are BYTES; the ZipMap probabilities keep the string labels in metadata', async () => {
    const { rows, probabilities } = models.expected.trees;
    const { labels, classes } = models.expected.trees_str;
    const r = await v2('trees_str', { inputs: [{ name: 'X', datatype: 'FP32', shape: [4, 3], data: rows.flat() }] });
    assert.equal(r.status, 200, r.text);
    const byName = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.label, { name: 'label', datatype: 'BYTES', shape: [4], data: labels });
    assertClose(byName.probabilities.data, probabilities.flat(), 1e-6);
    const md = (await (await fetch(`${servers.trees_str.url}/v2/models/trees_str`)).json()) as any;
    assert.deepEqual(md.outputs[1].parameters, { labels: classes });
  });
});

describe('strings (BYTES)', () => {
  test('strings in, strings and int64 out, over V2 and Seldon', async () => {
    const { words, kind, code } = models.expected.strings;
    const r = await v2('strings', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [4], data: words }] });
    assert.equal(r.status, 200, r.text);
    const byName = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.kind, { name: 'kind', datatype: 'BYTES', shape: [4], data: kind });
    assert.deepEqual(byName.code, { name: 'code', datatype: 'INT64', shape: [4], data: code });
    const s = await seldon('strings', { data: { ndarray: words } });
    assert.equal(s.status, 200, s.text);
    assert.deepEqual(s.json.data.ndarray, kind);
    const num = await v2('strings', { inputs: [{ name: 'text', datatype: 'FP32', shape: [1], data: [1] }] });
    assert.equal(num.status, 400);
    assert.match(num.json.error, /takes strings \(BYTES\), got FP32/);
  });

  test('gRPC V2 bytes_contents', async () => {
    const { words, kind, code } = models.expected.strings;
    const b64 = words.map((w) => Buffer.from(w).toString('base64'));
    const r = await pythonGrpc(servers.strings.grpcTarget!, [
      { id: 'v2', call: 'infer', request: { model_name: 'strings', inputs: [{ name: 'text', datatype: 'BYTES', shape: [4], contents: { bytes_contents: b64 } }] } },
    ]);
    const byName = Object.fromEntries(r.v2.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.kind.contents.bytes_contents.map((b: string) => Buffer.from(b, 'base64').toString()), kind);
    assert.deepEqual(byName.code.contents.int64_contents.map(Number), code);
  });
});

describe('several inputs', () => {
  test('V2 inputs map by name; Seldon data.names pick the columns', async () => {
    const { pairs, difference } = models.expected.two_inputs;
    const v = await v2('two_inputs', {
      inputs: [
        { name: 'b', datatype: 'FP64', shape: [2, 1], data: pairs.map((p) => p[1]) },
        { name: 'a', datatype: 'FP32', shape: [2, 1], data: pairs.map((p) => p[0]) },
      ],
    });
    assert.equal(v.status, 200, v.text);
    assertClose(v.json.outputs[0].data, difference.flat());
    const s = await seldon('two_inputs', { data: { names: ['b', 'a'], ndarray: pairs.map((p) => [p[1], p[0]]) } });
    assert.equal(s.status, 200, s.text);
    assertClose(s.json.data.ndarray, difference);
    const unnamed = await seldon('two_inputs', { data: { ndarray: pairs } });
    assert.equal(unnamed.status, 400);
    assert.match(unnamed.json.status.info, /takes inputs a, b; missing a, b/);
  });
});

describe('every element type with a V2 datatype', () => {
  const cases: Array<[string, unknown[]]> = [
    ['FP32', [1.5, -2.25, 3, 0]],
    ['FP64', [1e-300, -2.5, 7, 0.1]],
    ['FP16', [0.5, -1.5, 2048, 0.25]],
    ['INT8', [-128, 127, 0, -1]],
    ['INT16', [-32768, 32767, 5, -6]],
    ['INT32', [-2147483648, 2147483647, 7, -8]],
    ['INT64', [-9007199254740991, 9007199254740991, 9, -10]],
    ['UINT8', [0, 255, 1, 2]],
    ['UINT16', [0, 65535, 3, 4]],
    ['UINT32', [0, 4294967295, 5, 6]],
    ['UINT64', [0, 9007199254740991, 7, 8]],
    ['BOOL', [true, false, false, true]],
    ['BYTES', ['a', 'bé', '', 'd']],
  ];
  test('each type goes through Identity and comes back with its datatype and values, inline and in a worker', async () => {
    for (const key of ['types', 'types_pool']) {
      const r = await v2(key, { inputs: cases.map(([dt, data]) => ({ name: `in_${dt}`, datatype: dt, shape: [2, 2], data })) });
      assert.equal(r.status, 200, r.text);
      const byName = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
      for (const [dt, data] of cases) {
        assert.deepEqual(byName[`out_${dt}`], { name: `out_${dt}`, datatype: dt, shape: [2, 2], data }, `${key} ${dt}`);
      }
    }
    const md = (await (await fetch(`${servers.types.url}/v2/models/types`)).json()) as any;
    assert.deepEqual(md.inputs.map((i: any) => i.datatype), cases.map(([dt]) => dt));
  });

  test('an integer input refuses fractions', async () => {
    const inputs = cases.map(([dt, data]) => ({ name: `in_${dt}`, datatype: dt, shape: [2, 2], data }));
    inputs[6] = { name: 'in_INT64', datatype: 'FP64', shape: [2, 2], data: [1.5, 2, 3, 4] };
    const r = await v2('types', { inputs });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /in_INT64 takes int64 integers; element 0 is 1.5/);
  });
});
