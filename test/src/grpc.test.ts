// gRPC against an independent client (Python grpcio with stubs compiled from our .proto files by Debian's
// grpc_tools): Seldon and V2 services on a real iris model, answers equal to REST and to scikit-learn.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { pythonGrpc } from './helpers/grpc-python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

let models: TrainedModels;
let server: ServerProcess;

before(async () => {
  models = await sklearnModels();
  server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '2']);
  await waitReady(server);
});
after(async () => {
  assert.equal(await server.stop(), 0, server.logs());
});

const f64 = (rows: number[][]) => Buffer.from(new Float64Array(rows.flat()).buffer).toString('base64');
const decodeF64 = (b64: string) => {
  const b = Buffer.from(b64, 'base64');
  return Array.from(new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
};

describe('Seldon services', () => {
  test('Model/Predict and Seldon/Predict equal the REST answer and sklearn, in each data form', async () => {
    const rest = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'ndarray', call: 'seldon', message: { data: { ndarray: IRIS_ROWS }, meta: { puid: 'p-1', tags: { a: 1 } } } },
      { id: 'seldon', call: 'seldon', service: 'Seldon', message: { data: { ndarray: IRIS_ROWS } } },
      { id: 'tensor', call: 'seldon', message: { data: { tensor: { shape: [4, 4], values: IRIS_ROWS.flat() } } } },
      { id: 'tftensor', call: 'seldon', message: { data: { tftensor: { dtype: 'DT_DOUBLE', tensorShape: { dim: [{ size: '4' }, { size: '4' }] }, tensorContent: f64(IRIS_ROWS) } } } },
      { id: 'oneD', call: 'seldon', message: { data: { ndarray: IRIS_ROWS[0] } } },
    ]);
    assert.deepEqual(r.ndarray.data.names, ['t:0', 't:1', 't:2']);
    assert.deepEqual(r.ndarray.data.ndarray, rest.json.data.ndarray);
    assertClose(r.ndarray.data.ndarray, models.expected.iris.predict_proba);
    assert.equal(r.ndarray.meta.puid, 'p-1');
    assert.deepEqual(r.ndarray.meta.tags, { a: 1 });
    assert.deepEqual(r.seldon.data.ndarray, rest.json.data.ndarray);
    assert.deepEqual(r.tensor.data.tensor.shape, [4, 3]);
    assertClose(r.tensor.data.tensor.values, (models.expected.iris.predict_proba as number[][]).flat());
    assert.equal(r.tftensor.data.tftensor.dtype, 'DT_DOUBLE');
    assertClose(decodeF64(r.tftensor.data.tftensor.tensorContent), (models.expected.iris.predict_proba as number[][]).flat());
    assertClose(r.oneD.data.ndarray, [models.expected.iris.predict_proba[0]]);
  });

  test('Metadata, SendFeedback, TransformInput (identity), Route (not a router)', async () => {
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'md', call: 'seldon_metadata' },
      { id: 'fb', call: 'feedback', message: { request: { data: { ndarray: [IRIS_ROWS[0]] } }, reward: 2 } },
      { id: 'ti', call: 'seldon', service: 'Transformer', method: 'TransformInput', message: { data: { ndarray: [[1, 2]] } } },
      { id: 'route', call: 'seldon', service: 'Router', method: 'Route', message: { data: { ndarray: [[1, 2]] } } },
    ]);
    assert.equal(r.md.name, 'iris');
    assert.equal(r.md.platform, 'sklearn');
    assert.deepEqual(r.md.inputs[0].shape, ['-1', '4']);
    assert.deepEqual(r.fb.data.ndarray, []); // as Seldon's prepackaged servers answer
    assert.deepEqual(r.ti.data.ndarray, [[1, 2]]);
    assert.equal(r.route.error, 'INVALID_ARGUMENT'); // Seldon: 400 MICROSERVICE_BAD_DATA
    const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    assert.match(metrics, /seldon_api_model_feedback_reward_total\{[^}]*\} 2/);
    assert.match(metrics, /modelfleet_requests_total\{protocol="seldon-grpc",endpoint="Predict",code="OK"/);
  });

  test('bad messages get INVALID_ARGUMENT and the server keeps serving', async () => {
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'features', call: 'seldon', message: { data: { ndarray: [[1, 2, 3]] } } },
      { id: 'nodata', call: 'seldon', message: { strData: 'hi' } },
      { id: 'garbage', call: 'garbage', method: '/seldon.protos.Model/Predict', bytes: Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 1, 2]).toString('base64') },
      { id: 'after', call: 'seldon', message: { data: { ndarray: [IRIS_ROWS[1]] } } },
    ]);
    assert.equal(r.features.error, 'INVALID_ARGUMENT');
    assert.match(r.features.details, /expected 4 features per row, got 3/);
    assert.equal(r.nodata.error, 'INVALID_ARGUMENT');
    assert.equal(r.garbage.error, 'INVALID_ARGUMENT');
    assert.match(r.garbage.details, /malformed Predict request/);
    assertClose(r.after.data.ndarray, [models.expected.iris.predict_proba[1]]);
  });
});

describe('V2 GRPCInferenceService', () => {
  test('typed contents: FP64 in, predict_proba and predict out, equal to REST', async () => {
    const rest = await postJson(`${server.url}/v2/models/iris/infer`, {
      inputs: [{ name: 'x', shape: [4, 4], datatype: 'FP64', data: IRIS_ROWS.flat() }],
      outputs: [{ name: 'predict_proba' }, { name: 'predict' }],
    });
    const r = await pythonGrpc(server.grpcTarget!, [
      {
        id: 'infer',
        call: 'infer',
        request: {
          model_name: 'iris',
          id: 'g-1',
          inputs: [{ name: 'x', datatype: 'FP64', shape: [4, 4], contents: { fp64_contents: IRIS_ROWS.flat() } }],
          outputs: [{ name: 'predict_proba' }, { name: 'predict' }],
        },
      },
    ]);
    const [proba, labels] = r.infer.outputs;
    assert.equal(r.infer.id, 'g-1');
    assert.equal(proba.datatype, 'FP64');
    assert.deepEqual(proba.shape, ['4', '3']);
    assert.deepEqual(proba.contents.fp64_contents, rest.json.outputs[0].data);
    assertClose(proba.contents.fp64_contents, (models.expected.iris.predict_proba as number[][]).flat());
    assert.deepEqual(labels.contents.int64_contents.map(Number), models.expected.iris.predict);
  });

  test('ModelStreamInfer: one answer per request over one stream, a bad request answers error_message and the stream goes on', async () => {
    const req = (id: string, rows: number[][], width = 4) => ({
      model_name: 'iris',
      id,
      inputs: [{ name: 'x', datatype: 'FP64', shape: [rows.length, width], contents: { fp64_contents: rows.flat() } }],
      outputs: [{ name: 'predict_proba' }],
    });
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'stream', call: 'stream', requests: [req('s-1', IRIS_ROWS.slice(0, 2)), req('s-bad', [[1, 2, 3]], 3), req('s-2', IRIS_ROWS.slice(2))] },
      { id: 'wrongModel', call: 'stream', requests: [{ ...req('w', IRIS_ROWS), model_name: 'nope' }] },
    ]);
    const answers: Array<Record<string, any>> = r.stream;
    assert.equal(answers.length, 3);
    const byId = new Map(answers.filter((a) => a.infer_response).map((a) => [a.infer_response.id, a.infer_response]));
    const expected = models.expected.iris.predict_proba as number[][];
    assertClose(byId.get('s-1').outputs[0].contents.fp64_contents, expected.slice(0, 2).flat());
    assertClose(byId.get('s-2').outputs[0].contents.fp64_contents, expected.slice(2).flat());
    const failed = answers.filter((a) => a.error_message);
    assert.equal(failed.length, 1);
    assert.match(failed[0].error_message, /expected 4 features per row, got 3/);
    assert.equal(r.wrongModel.length, 1);
    assert.match(r.wrongModel[0].error_message, /Model nope not found/);
    const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    assert.match(metrics, /modelfleet_requests_total\{protocol="v2-grpc",endpoint="ModelStreamInfer",code="INVALID_ARGUMENT"[^}]*\} 1/);
  });

  test('raw contents in, raw contents out (little-endian)', async () => {
    const raw = Buffer.from(new Float32Array(IRIS_ROWS.flat()).buffer).toString('base64');
    const r = await pythonGrpc(server.grpcTarget!, [
      {
        id: 'raw',
        call: 'infer',
        request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 4] }], outputs: [{ name: 'predict_proba' }] },
        raw: [raw],
      },
    ]);
    assert.equal(r.raw.outputs[0].contents, undefined);
    assertClose(decodeF64(r.raw.raw_output_contents[0]), (models.expected.iris.predict_proba_f32 as number[][]).flat(), 1e-9);
  });

  test('a 50 MB request', async () => {
    const rows = 3_250_000;
    const r = await pythonGrpc(server.grpcTarget!, [
      {
        id: 'big',
        call: 'infer',
        request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 4] }], outputs: [{ name: 'predict' }] },
        raw_f32_values: rows * 4,
        summarise_raw: true,
      },
      { id: 'after', call: 'ServerReady' },
    ]);
    assert.equal(r.big.error, undefined, JSON.stringify(r.big));
    assert.deepEqual(r.big.outputs[0].shape, [String(rows)]);
    assert.deepEqual(r.big.raw_output_sizes, [rows * 8]);
    assert.equal(r.after.ready, true);
  });

  test('health, metadata and errors map to gRPC codes', async () => {
    const r = await pythonGrpc(server.grpcTarget!, [
      { id: 'live', call: 'ServerLive' },
      { id: 'meta', call: 'ServerMetadata' },
      { id: 'ready', call: 'ModelReady', name: 'iris' },
      { id: 'md', call: 'ModelMetadata', name: 'iris' },
      { id: 'unknown', call: 'ModelMetadata', name: 'nope' },
      { id: 'shape', call: 'infer', request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FP64', shape: [2, 4], contents: { fp64_contents: IRIS_ROWS[0] } }] } },
      { id: 'type', call: 'infer', request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FLOAT', shape: [1, 4], contents: { fp64_contents: IRIS_ROWS[0] } }] } },
      { id: 'garbage', call: 'garbage', method: '/inference.GRPCInferenceService/ModelInfer', bytes: Buffer.from([0x2a, 0xff, 0xff, 0xff, 0x0f]).toString('base64') },
      { id: 'int8', call: 'infer', request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'INT8', shape: [1, 4], contents: { int_contents: [300, 1, 2, 3] } }] } },
      {
        id: 'extra',
        call: 'infer',
        request: {
          model_name: 'iris',
          inputs: [
            { name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: IRIS_ROWS[0] } },
            { name: 'extra', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: IRIS_ROWS[0] } },
          ],
        },
      },
    ]);
    assert.equal(r.live.live, true);
    assert.equal(r.meta.name, 'modelfleet');
    assert.equal(r.ready.ready, true);
    assert.deepEqual(r.md.outputs.map((o: any) => o.name), ['predict', 'predict_proba', 'decision_function']);
    assert.equal(r.unknown.error, 'NOT_FOUND');
    assert.equal(r.shape.error, 'INVALID_ARGUMENT');
    assert.match(r.shape.details, /needs 8 elements, got 4/);
    assert.equal(r.type.error, 'INVALID_ARGUMENT');
    assert.equal(r.garbage.error, 'INVALID_ARGUMENT');
    assert.equal(r.int8.error, 'INVALID_ARGUMENT'); // issue 16 item 8: a value outside its datatype
    assert.match(r.int8.details, /input x: INT8 value 300 is outside INT8's range/);
    assert.equal(r.extra.error, 'INVALID_ARGUMENT'); // an input the model does not take is named, not ignored
    assert.match(r.extra.details, /input "extra" is not an input of model iris/);
  });
});

describe('BYTES tensors (a model on string features)', () => {
  let strings: ServerProcess;
  before(async () => {
    strings = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.strings, '--model-name', 'strings']);
    await waitReady(strings);
  });
  after(async () => {
    await strings.stop();
  });
  test('bytes_contents and length-prefixed raw contents both reach the model as strings', async () => {
    const rows = models.expected.strings.rows as unknown as string[][];
    const flat = rows.flat();
    const raw = Buffer.concat(flat.map((s) => {
      const b = Buffer.from(s);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return Buffer.concat([len, b]);
    }));
    const request = (contents: boolean) => ({
      model_name: 'strings',
      inputs: [{ name: 'x', datatype: 'BYTES', shape: [3, 2], ...(contents ? { contents: { bytes_contents: flat.map((s) => Buffer.from(s).toString('base64')) } } : {}) }],
      outputs: [{ name: 'predict_proba' }],
    });
    const r = await pythonGrpc(strings.grpcTarget!, [
      { id: 'typed', call: 'infer', request: request(true) },
      { id: 'raw', call: 'infer', request: request(false), raw: [raw.toString('base64')] },
    ]);
    const want = (models.expected.strings.predict_proba as number[][]).flat();
    assertClose(r.typed.outputs[0].contents.fp64_contents, want);
    assertClose(decodeF64(r.raw.raw_output_contents[0]), want);
  });
});

describe('limits and loading', () => {
  test('a message over MODELFLEET_GRPC_MAX_MESSAGE_SIZE is RESOURCE_EXHAUSTED; the server keeps serving', async () => {
    const small = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris'], { MODELFLEET_GRPC_MAX_MESSAGE_SIZE: '1mb' });
    try {
      await waitReady(small);
      const r = await pythonGrpc(small.grpcTarget!, [
        { id: 'big', call: 'infer', request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FP32', shape: [100_000, 4] }] }, raw_f32_values: 400_000 },
        { id: 'ok', call: 'seldon', message: { data: { ndarray: [IRIS_ROWS[0]] } } },
      ]);
      assert.equal(r.big.error, 'RESOURCE_EXHAUSTED');
      assertClose(r.ok.data.ndarray, [models.expected.iris.predict_proba[0]]);
    } finally {
      await small.stop();
    }
  });

  test('ModelInfer while the model loads is UNAVAILABLE; health turns SERVING when ready', async () => {
    const slow = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.slow_load, '--model-name', 'iris']);
    try {
      const step = { id: 'infer', call: 'infer', request: { model_name: 'iris', inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: IRIS_ROWS[0] } }] } };
      const early = await pythonGrpc(slow.grpcTarget!, [step, { id: 'ready', call: 'ServerReady' }]);
      assert.equal(early.infer.error, 'UNAVAILABLE');
      assert.match(early.infer.details, /still loading/);
      assert.equal(early.ready.ready, undefined); // proto3 JSON omits false
      assert.equal(await healthCheck(slow.grpcTarget!), 'NOT_SERVING');
      await waitReady(slow);
      assert.equal(await healthCheck(slow.grpcTarget!), 'SERVING');
      const late = await pythonGrpc(slow.grpcTarget!, [step]);
      assert.deepEqual(late.infer.outputs[0].contents.int64_contents.map(Number), [models.expected.iris.predict[0]]);
    } finally {
      await slow.stop();
    }
  });

  test('server reflection lists every service', async () => {
    const services = await reflectionServices(server.grpcTarget!);
    for (const s of ['inference.GRPCInferenceService', 'seldon.protos.Model', 'seldon.protos.Seldon', 'seldon.protos.Generic', 'grpc.health.v1.Health']) {
      assert.ok(services.includes(s), `${s} missing from ${services.join(', ')}`);
    }
  });
});

/** grpc.health.v1 Check with a grpc-js client. */
async function healthCheck(target: string): Promise<string> {
  const proto = fileURLToPath(new URL('../../node_modules/grpc-health-check/proto/health/v1/health.proto', import.meta.url));
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, enums: String })) as any;
  const client = new pkg.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) => client.Check({ service: '' }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))));
  } finally {
    client.close();
  }
}

/** The reflection service's list of services (what grpcurl shows for `list`). */
async function reflectionServices(target: string): Promise<string[]> {
  const proto = fileURLToPath(new URL('../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto', import.meta.url));
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true })) as any;
  const client = new pkg.grpc.reflection.v1alpha.ServerReflection(target, grpc.credentials.createInsecure());
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (res: any) => {
        resolve(res.list_services_response.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
  } finally {
    client.close();
  }
}
