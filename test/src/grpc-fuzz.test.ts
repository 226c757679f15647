// Issue 16: property-based fuzzing (fast-check, fixed seed) of the gRPC services against a real server over a real
// socket, with grpc-js as the client: Seldon Predict and V2 ModelInfer with valid messages (which must answer OK)
// and broken ones (wrong shapes, datatypes that do not match the contents, huge and negative dims, missing fields,
// raw contents of the wrong length, NaN in Values), plus bytes that are not the message at all. Properties: never
// INTERNAL or UNKNOWN (or a hang, or a lost connection), and the server still answers afterwards in one process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import fc from 'fast-check';
import { PROTO_OPTIONS } from '@modelfleet/shared/grpc/protos';
import { IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const SEED = 16;
const RUNS = 600; // per property; about 15 s in all here (loaded machine)

type Obj = Record<string, any>;
let server: ServerProcess;
let seldon: grpc.Client;
let v2: grpc.Client;

before(async () => {
  const models = await sklearnModels();
  // One process: a crash cannot hide behind the cluster primary restarting a worker.
  server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris'], { MODELFLEET_HTTP_PROCESSES: '1' });
  await waitReady(server);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], PROTO_OPTIONS)) as Obj;
  seldon = new pkg.seldon.protos.Model(server.grpcTarget!, grpc.credentials.createInsecure());
  v2 = new pkg.inference.GRPCInferenceService(server.grpcTarget!, grpc.credentials.createInsecure());
});
after(async () => {
  seldon?.close();
  v2?.close();
  assert.equal(await server.stop(), 0, server.logs());
});

const deadline = () => Date.now() + 60_000;
function call(client: grpc.Client, method: string, message: Obj): Promise<{ code: grpc.status; details: string; value?: Obj }> {
  return new Promise((resolve) => {
    (client as any)[method](message, { deadline: deadline() }, (err: grpc.ServiceError | null, value: Obj) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', value }),
    );
  });
}
/** Bytes sent as they are: the server must decode them itself. */
function callRaw(method: string, bytes: Buffer): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    v2.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: deadline() }, (err) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
    );
  });
}

// INTERNAL/UNKNOWN are the server failing; DEADLINE_EXCEEDED a hang; UNAVAILABLE a lost connection (a crash).
const FORBIDDEN = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE]);
/** Answers seen per property, so a test also shows that the fuzz reached the error paths and not only OK. */
let seen = new Map<string, number>();
function check(r: { code: grpc.status; details: string }, what: () => string): void {
  seen.set(grpc.status[r.code], (seen.get(grpc.status[r.code]) ?? 0) + 1);
  if (FORBIDDEN.has(r.code)) throw new Error(`${grpc.status[r.code]}: ${r.details} for ${what().slice(0, 400)}`);
  if (r.code !== grpc.status.OK && !r.details) throw new Error(`${grpc.status[r.code]} without a message for ${what().slice(0, 400)}`);
}
const show = (m: unknown) => JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Buffer || v?.type === 'Buffer' ? `<${Buffer.from(v).length} bytes>` : v));

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16', 'BYTES', 'FLOAT', ''];
/** int64 dims as the wire carries them: small, negative, and up to the int64 extremes. */
const dim = fc.oneof(
  { arbitrary: fc.integer({ min: -2, max: 6 }), weight: 4 },
  { arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), weight: 1 },
  { arbitrary: fc.constantFrom(2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)), weight: 1 },
).map(String);
const buffer = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
const contents = fc.record(
  {
    bool_contents: fc.array(fc.boolean(), { maxLength: 12 }),
    int_contents: fc.array(fc.integer(), { maxLength: 12 }),
    int64_contents: fc.array(int64, { maxLength: 12 }),
    uint_contents: fc.array(fc.nat(), { maxLength: 12 }),
    uint64_contents: fc.array(uint64, { maxLength: 12 }),
    fp32_contents: fc.array(fc.float(), { maxLength: 12 }),
    fp64_contents: fc.array(fc.double(), { maxLength: 12 }),
    bytes_contents: fc.array(buffer(8), { maxLength: 4 }),
  },
  { requiredKeys: [] },
);
const inferParameter = fc.oneof(
  fc.record({ bool_param: fc.boolean() }),
  fc.record({ int64_param: int64 }),
  fc.record({ string_param: fc.constantFrom('base64', 'str', 'np', 'pd', '', 'x') }),
  fc.record({ double_param: fc.double() }),
);
const parameters = fc.dictionary(fc.constantFrom('content_type', 'binary_data_size', 'binary_data_output', 'x'), inferParameter, { maxKeys: 2 });
const brokenInput = fc.record(
  {
    name: fc.oneof(fc.constant('input-0'), fc.string({ maxLength: 4 })),
    datatype: fc.constantFrom(...DATATYPES),
    shape: fc.array(dim, { maxLength: 4 }),
    parameters,
    contents,
  },
  { requiredKeys: [] },
);
/** A request the model must answer: n iris rows as FP64 contents or as raw little-endian bytes. */
const validRequest = fc
  .tuple(fc.array(fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 6 }), fc.boolean())
  .map(([rows, raw]) => {
    const input = { name: 'input-0', datatype: 'FP64', shape: [rows.length, 4] };
    return raw
      ? { model_name: 'iris', inputs: [input], raw_input_contents: [Buffer.from(new Float64Array(rows.flat()).buffer)] }
      : { model_name: 'iris', inputs: [{ ...input, contents: { fp64_contents: rows.flat() } }] };
  });
const brokenRequest = fc.record(
  {
    model_name: fc.oneof({ arbitrary: fc.constant('iris'), weight: 4 }, { arbitrary: fc.constantFrom('', 'nope'), weight: 1 }),
    model_version: fc.constantFrom('', '1', '2'),
    id: fc.string({ maxLength: 4 }),
    parameters,
    inputs: fc.array(brokenInput, { maxLength: 3 }),
    outputs: fc.array(fc.record({ name: fc.constantFrom('predict', 'predict_proba', 'nope', ''), parameters }, { requiredKeys: ['name'] }), { maxLength: 2 }),
    // Raw contents of any length, also for a valid-looking FP64 [n,4] header (so mostly the wrong length).
    raw_input_contents: fc.array(fc.oneof(buffer(80), fc.integer({ min: 0, max: 200 }).map((n) => Buffer.alloc(n, 0x3f))), { maxLength: 3 }),
  },
  { requiredKeys: ['model_name'] },
);

/** google.protobuf.Value, NaN and infinities included (proto3 JSON cannot carry them; the binary wire can). */
const value: fc.Arbitrary<Obj> = fc.letrec<{ v: Obj }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.double().map((n) => ({ numberValue: n })),
    fc.string({ maxLength: 4 }).map((s) => ({ stringValue: s })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.constant({ nullValue: 'NULL_VALUE' }),
    fc.array(tie('v'), { maxLength: 5 }).map((values) => ({ listValue: { values } })),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('v'), { maxKeys: 2 }).map((fields) => ({ structValue: { fields } })),
  ),
})).v;
const rowsValue = fc
  .array(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 5 })
  .map((rows) => ({ values: rows.map((r) => ({ listValue: { values: r.map((n) => ({ numberValue: n })) } })) }));
const TF_TYPES = ['DT_DOUBLE', 'DT_FLOAT', 'DT_INT32', 'DT_INT64', 'DT_STRING', 'DT_BOOL', 'DT_HALF', 'DT_UINT8', 'DT_INVALID'];
const seldonData = fc.oneof(
  fc.record({ names: fc.array(fc.string({ maxLength: 3 }), { maxLength: 5 }), ndarray: fc.oneof(rowsValue, fc.array(value, { maxLength: 4 }).map((values) => ({ values }))) }, { requiredKeys: [] }),
  fc.record({ tensor: fc.record({ shape: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 3 }), values: fc.array(fc.double(), { maxLength: 20 }) }, { requiredKeys: [] }) }),
  fc.record({ tensor: fc.record({ shape: fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), values: fc.array(fc.double(), { maxLength: 20 }) }) }),
  fc.record({
    tftensor: fc.record(
      {
        dtype: fc.constantFrom(...TF_TYPES),
        tensor_shape: fc.record({ dim: fc.array(fc.record({ size: dim }), { maxLength: 3 }), unknown_rank: fc.boolean() }, { requiredKeys: [] }),
        tensor_content: buffer(80),
        double_val: fc.array(fc.double(), { maxLength: 12 }),
        int64_val: fc.array(int64, { maxLength: 6 }),
        string_val: fc.array(buffer(4), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
  }),
);
const seldonMessage = fc.oneof(
  fc.record({ data: seldonData, meta: fc.record({ puid: fc.string({ maxLength: 4 }), tags: fc.dictionary(fc.string({ maxLength: 3 }), value, { maxKeys: 2 }), routing: fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  fc.record({ binData: buffer(40) }),
  fc.record({ strData: fc.string({ maxLength: 20 }) }),
  fc.record({ jsonData: value }),
  fc.constant({}),
);

/** A valid encoding with one byte changed, dropped or inserted, cut short, or plain noise. */
function mutatedBytes(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'drop', 'insert', 'cut')).map(([b, at, byte, how]) => {
      const i = b.length ? at % b.length : 0;
      if (how === 'set' && b.length) return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i + 1)]);
      if (how === 'drop') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      if (how === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
      return b.subarray(0, i);
    }),
    buffer(64),
  );
}

describe('fuzzing the gRPC services (fast-check, seed 16)', () => {
  test('V2 ModelInfer: valid requests answer OK with predictions; broken ones never INTERNAL/UNKNOWN', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, async (req) => {
        const r = await call(v2, 'ModelInfer', req);
        assert.equal(r.code, grpc.status.OK, `${r.details} for ${show(req)}`);
        assert.equal(r.value!.outputs[0].shape.map(Number)[0], req.inputs[0].shape[0]);
      }),
      { seed: SEED, numRuns: RUNS / 5 },
    );
    seen = new Map();
    await fc.assert(
      fc.asyncProperty(brokenRequest, async (req) => check(await call(v2, 'ModelInfer', req), () => show(req))),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok((seen.get('INVALID_ARGUMENT') ?? 0) > RUNS / 4 && seen.has('NOT_FOUND'), JSON.stringify([...seen]));
  });

  test('Seldon Predict: never INTERNAL/UNKNOWN, whatever the message', async () => {
    seen = new Map();
    await fc.assert(
      fc.asyncProperty(seldonMessage, async (msg) => check(await call(seldon, 'Predict', msg), () => show(msg))),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok((seen.get('INVALID_ARGUMENT') ?? 0) > RUNS / 4 && seen.has('OK'), JSON.stringify([...seen]));
  });

  test('bytes that are not (quite) the message: INVALID_ARGUMENT or an answer, never INTERNAL', async () => {
    const pkg = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], PROTO_OPTIONS) as Obj;
    const encodeInfer = pkg['inference.GRPCInferenceService'].ModelInfer.requestSerialize as (m: Obj) => Buffer;
    const encodePredict = pkg['seldon.protos.Model'].Predict.requestSerialize as (m: Obj) => Buffer;
    const cases = fc.oneof(
      mutatedBytes(fc.oneof(validRequest, brokenRequest).map(encodeInfer)).map((b) => ['/inference.GRPCInferenceService/ModelInfer', b] as const),
      mutatedBytes(seldonMessage.map(encodePredict)).map((b) => ['/seldon.protos.Model/Predict', b] as const),
    );
    seen = new Map();
    await fc.assert(
      fc.asyncProperty(cases, async ([method, bytes]) => check(await callRaw(method, bytes), () => `${method} ${bytes.toString('hex')}`)),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok((seen.get('INVALID_ARGUMENT') ?? 0) > RUNS / 4, JSON.stringify([...seen]));
  });

  test('the server is still up, in its one process, and answers correctly', async () => {
    const r = await call(v2, 'ModelInfer', { model_name: 'iris', inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: IRIS_ROWS[0] } }] });
    assert.equal(r.code, grpc.status.OK, r.details);
    const p = await call(seldon, 'Predict', { data: { tensor: { shape: [1, 4], values: IRIS_ROWS[0] } } });
    assert.equal(p.code, grpc.status.OK, p.details);
    assert.equal(server.proc.exitCode, null);
    const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    assert.doesNotMatch(metrics, /protocol="(v2|seldon)-grpc"[^}]*code="(INTERNAL|UNKNOWN)"/);
  });
});
