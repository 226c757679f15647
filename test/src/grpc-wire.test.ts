// The hand-written gRPC wire codecs (SeldonMessage, ModelInferRequest/Response) against protobufjs, the decoder the
// server falls back to: for random messages, mutated bytes and the encodings protobufjs itself never writes
// (unpacked repeated fields, duplicated fields, unknown fields), the fast path either steps aside (undefined) or
// gives exactly what protobufjs gives. The servers' own tests (grpc, grpc-fuzz, the Python grpcio client) cover the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { PROTO_OPTIONS } from '@modelfleet/shared/grpc/protos';
import { seldonFromProto, seldonFromWire, seldonToProto, seldonToWire } from '@modelfleet/shared/codecs/seldon-proto';
import { decodeV2Proto, v2RequestFromWire, v2ResponseToWire } from '@modelfleet/shared/codecs/v2-proto';

type Obj = Record<string, any>;
const defs = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], PROTO_OPTIONS);
const predict = (defs['seldon.protos.Model'] as Obj).Predict as protoLoader.MethodDefinition<Obj, Obj>;
// Writers are compared after decoding with proto3 defaults filled in: an empty string written or not is the same message.
const full = protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], { ...PROTO_OPTIONS, defaults: true });
const predictFull = (full['seldon.protos.Model'] as Obj).Predict as protoLoader.MethodDefinition<Obj, Obj>;
const inferFull = (full['inference.GRPCInferenceService'] as Obj).ModelInfer as protoLoader.MethodDefinition<Obj, Obj>;
const infer = (defs['inference.GRPCInferenceService'] as Obj).ModelInfer as protoLoader.MethodDefinition<Obj, Obj>;
const SEED = 22;
const outcome = <T>(f: () => T): { ok: T } | { error: string } => {
  try {
    return { ok: f() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

// Values: numeric rows (what predict takes), or with strings/bools among them, which take the message off the fast path.
const numberValue = fc.oneof(fc.double(), fc.integer()).map((v) => ({ numberValue: v }));
const lists = (leaf: fc.Arbitrary<Obj>) =>
  fc.letrec<{ list: Obj; value: Obj }>((tie) => ({
    list: fc.array(tie('value'), { maxLength: 5 }).map((values) => ({ values })),
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, { weight: 3, arbitrary: leaf }, tie('list').map((l) => ({ listValue: l }))),
  })).list;
const listValue = fc.oneof(
  { weight: 4, arbitrary: lists(numberValue) },
  lists(fc.oneof(numberValue, fc.string().map((s) => ({ stringValue: s })), fc.boolean().map((b) => ({ boolValue: b })))),
);
const defaultData = fc.record({ names: fc.array(fc.string(), { maxLength: 4 }) }).chain((d) =>
  fc.oneof(
    fc.constant(d),
    fc.record({ shape: fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 3 }), values: fc.array(fc.double(), { maxLength: 12 }) }).map((tensor) => ({ ...d, tensor })),
    listValue.map((ndarray) => ({ ...d, ndarray })),
  ),
);
const seldonMessage: fc.Arbitrary<Obj> = fc.record(
  {
    meta: fc.oneof(
      { weight: 4, arbitrary: fc.record({ puid: fc.string() }, { requiredKeys: [] }) },
      fc.record({ puid: fc.string(), tags: fc.dictionary(fc.string(), numberValue, { maxKeys: 2 }) }),
    ),
    payload: fc.oneof({ weight: 6, arbitrary: defaultData.map((data) => ({ data })) }, fc.string().map((strData) => ({ strData })), fc.constant({})),
  },
  { requiredKeys: ['payload'] },
).map(({ meta, payload }) => ({ ...(meta ? { meta } : {}), ...payload }));

test('SeldonMessage: the fast reader gives what protobufjs + seldonFromProto give, or steps aside', () => {
  let fast = 0;
  fc.assert(
    fc.property(seldonMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(3), (msg, at, byte, mutate) => {
      let bytes = predict.requestSerialize(msg);
      // A quarter of the cases are broken bytes: a changed byte, or the message cut short.
      if (mutate === 1 && bytes.length) (bytes = Buffer.from(bytes))[at % bytes.length] = byte;
      if (mutate === 2) bytes = bytes.subarray(0, at % (bytes.length + 1));
      const mine = seldonFromWire(bytes);
      if (mine === undefined) return;
      fast++;
      assert.deepEqual(outcome(() => mine), outcome(() => seldonFromProto(predict.requestDeserialize(bytes))));
    }),
    { seed: SEED, numRuns: 3000 },
  );
  assert.ok(fast > 1000, `only ${fast} of 3000 messages took the fast path: the property tests little`);
});

test('SeldonMessage: the fast writer encodes what seldonToProto + protobufjs encode, or steps aside', () => {
  let fast = 0;
  fc.assert(
    fc.property(seldonMessage, (msg) => {
      const json = seldonFromProto(predict.requestDeserialize(predict.requestSerialize(msg)));
      // Answers carry requestPath too.
      if (json.meta && msg.meta?.puid) json.meta.requestPath = { [msg.meta.puid]: 'image:1' };
      const mine = seldonToWire(json);
      if (mine === undefined) return;
      fast++;
      assert.deepEqual(predictFull.requestDeserialize(mine), predictFull.requestDeserialize(predict.requestSerialize(seldonToProto(json))));
    }),
    { seed: SEED, numRuns: 2000 },
  );
  assert.ok(fast > 500, `only ${fast} of 2000 answers took the fast path`);
});

test('SeldonMessage: unpacked repeated fields, repeated and unknown fields read as protobufjs reads them', () => {
  // Tensor {shape: [1, 2] unpacked, values: [0.5, -1] unpacked} inside DefaultData inside SeldonMessage.data.
  const tensor = protobuf.Writer.create().uint32(8).int32(1).uint32(8).int32(2).uint32(17).double(0.5).uint32(17).double(-1).finish();
  const data = protobuf.Writer.create().uint32(10).string('a').uint32(18).bytes(tensor).finish();
  const unpacked = Buffer.from(protobuf.Writer.create().uint32(26).bytes(data).finish());
  assert.deepEqual(seldonFromWire(unpacked), { data: { names: ['a'], tensor: { shape: [1, 2], values: [0.5, -1] } } });
  assert.deepEqual(seldonFromWire(unpacked), seldonFromProto(predict.requestDeserialize(unpacked)));
  // A field the fast path does not know (an unknown field 99) and a repeated data field (protobuf merges): protobufjs decides.
  const unknown = Buffer.concat([unpacked, Buffer.from(protobuf.Writer.create().uint32((99 << 3) | 0).uint32(7).finish())]);
  assert.equal(seldonFromWire(unknown), undefined);
  assert.deepEqual(seldonFromProto(predict.requestDeserialize(unknown)), seldonFromProto(predict.requestDeserialize(unpacked)));
  assert.equal(seldonFromWire(Buffer.concat([unpacked, unpacked])), undefined);
});

const datatype = fc.constantFrom('FP64', 'FP32', 'INT32', 'UINT32', 'BOOL', 'INT64', 'BYTES', 'FP16');
const contents = fc.record(
  {
    fp64_contents: fc.array(fc.double(), { maxLength: 8 }),
    fp32_contents: fc.array(fc.float(), { maxLength: 8 }),
    int_contents: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 8 }),
    uint_contents: fc.array(fc.nat(), { maxLength: 8 }),
    bool_contents: fc.array(fc.boolean(), { maxLength: 8 }),
    int64_contents: fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const inferRequest: fc.Arbitrary<Obj> = fc.record(
  {
    model_name: fc.string(),
    model_version: fc.string(),
    id: fc.string(),
    inputs: fc.array(
      fc.record(
        {
          name: fc.string(),
          datatype,
          shape: fc.array(fc.oneof(fc.integer({ min: -1, max: 8 }), fc.constant('9223372036854775807')), { maxLength: 3 }),
          contents,
          parameters: fc.dictionary(fc.string(), fc.record({ string_param: fc.string() }), { maxKeys: 1 }),
        },
        { requiredKeys: ['name', 'datatype', 'shape'] },
      ),
      { maxLength: 2 },
    ),
    outputs: fc.array(fc.record({ name: fc.string() }), { maxLength: 2 }),
    raw_input_contents: fc.array(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

test('ModelInferRequest: the fast reader decodes to the same request (or the same error) as protobufjs, or steps aside', () => {
  let fast = 0;
  fc.assert(
    fc.property(inferRequest, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(3), (msg, at, byte, mutate) => {
      let bytes = infer.requestSerialize(msg);
      if (mutate === 1 && bytes.length) (bytes = Buffer.from(bytes))[at % bytes.length] = byte;
      if (mutate === 2) bytes = bytes.subarray(0, at % (bytes.length + 1));
      const mine = v2RequestFromWire(bytes);
      if (mine === undefined) return;
      fast++;
      const ref = outcome(() => infer.requestDeserialize(bytes));
      assert.ok('ok' in ref, 'the fast reader took bytes protobufjs rejects');
      const theirs = ref.ok;
      for (const k of ['model_name', 'model_version', 'id'] as const) assert.equal(mine[k] ?? '', theirs[k] ?? '');
      assert.deepEqual(outcome(() => decodeV2Proto(mine)), outcome(() => decodeV2Proto(theirs)));
    }),
    { seed: SEED, numRuns: 3000 },
  );
  assert.ok(fast > 800, `only ${fast} of 3000 requests took the fast path`);
});

test('ModelInferResponse: the fast writer encodes what protobufjs encodes, or steps aside', () => {
  let fast = 0;
  const response = fc.record({
    model_name: fc.string(),
    model_version: fc.string(),
    id: fc.string(),
    parameters: fc.oneof({ weight: 5, arbitrary: fc.constant({}) }, fc.constant({ k: { bool_param: true } })),
    outputs: fc.array(fc.record({ name: fc.string(), datatype, shape: fc.array(fc.nat(9).map(String), { maxLength: 3 }), parameters: fc.constant({}), contents }), { maxLength: 2 }),
    raw_output_contents: fc.array(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)), { maxLength: 2 }),
  });
  fc.assert(
    fc.property(response, (msg) => {
      const mine = v2ResponseToWire(msg);
      if (mine === undefined) return;
      fast++;
      assert.deepEqual(inferFull.responseDeserialize(mine), inferFull.responseDeserialize(infer.responseSerialize(msg)));
    }),
    { seed: SEED, numRuns: 2000 },
  );
  assert.ok(fast > 300, `only ${fast} of 2000 answers took the fast path`);
});

test('ModelInferRequest: unpacked contents and shape read as protobufjs reads them', () => {
  const w = protobuf.Writer.create();
  const c = protobuf.Writer.create().uint32(57).double(1.5).uint32(57).double(2.5).finish(); // fp64_contents unpacked
  const input = protobuf.Writer.create().uint32(10).string('x').uint32(18).string('FP64').uint32(24).int64(1).uint32(24).int64(2).uint32(42).bytes(c).finish();
  const bytes = Buffer.from(w.uint32(10).string('iris').uint32(42).bytes(input).finish());
  const mine = v2RequestFromWire(bytes)!;
  assert.ok(mine, 'unpacked fields stay on the fast path');
  assert.deepEqual(decodeV2Proto(mine), decodeV2Proto(infer.requestDeserialize(bytes)));
  assert.deepEqual(Array.from(decodeV2Proto(mine).request.inputs[0].data as Float64Array), [1.5, 2.5]);
});
