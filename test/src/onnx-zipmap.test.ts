// The ZipMap rewrite on hand-encoded ModelProto bytes: packed and unpacked int64 labels, a model with no
// default-domain opset import, and a model without ZipMap left byte for byte as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, lenField, parseFields, text, varintField } from '@modelfleet/shared/onnx/protowire';
import { rewriteZipMaps } from '@modelfleet/shared/onnx/zipmap';

const zigzagFree = (n: bigint): number[] => {
  // int64 as protobuf varint (two's complement for negatives, ten bytes)
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};

function zipmapModel(labels: bigint[], packed: boolean, defaultOpset: boolean): Uint8Array {
  const ints = packed
    ? [lenField(8, Uint8Array.from(labels.flatMap(zigzagFree)))]
    : labels.map((l) => Uint8Array.from([8 * 8, ...zigzagFree(l)]));
  const attr = concat([lenField(1, 'classlabels_int64s'), varintField(20, 7), ...ints]);
  const node = concat([lenField(1, 'probs_t'), lenField(2, 'probabilities'), lenField(3, 'zm'), lenField(4, 'ZipMap'), lenField(5, attr), lenField(7, 'ai.onnx.ml')]);
  const seqOutput = concat([lenField(1, 'probabilities'), lenField(2, lenField(4, new Uint8Array()))]);
  const graph = concat([lenField(1, node), lenField(2, 'g'), lenField(12, seqOutput)]);
  const opsets = [lenField(8, concat([lenField(1, 'ai.onnx.ml'), varintField(2, 1)])), ...(defaultOpset ? [lenField(8, concat([lenField(1, ''), varintField(2, 13)]))] : [])];
  return concat([varintField(1, 8), lenField(7, graph), ...opsets]);
}

const graphOf = (bytes: Uint8Array) => parseFields(parseFields(bytes).find((f) => f.field === 7)!.payload!);

for (const packed of [false, true]) {
  test(`labels read from ${packed ? 'packed' : 'unpacked'} int64s, ZipMap becomes Identity, output becomes a float tensor`, () => {
    const { bytes, zipmaps } = rewriteZipMaps(zipmapModel([3n, -1n, 1234567890123n], packed, true));
    assert.deepEqual(zipmaps, [{ output: 'probabilities', labels: [3, -1, 1234567890123] }]);
    const graph = graphOf(bytes);
    const node = parseFields(graph.find((f) => f.field === 1)!.payload!);
    assert.equal(text(node.find((f) => f.field === 4)!.payload), 'Identity');
    assert.deepEqual(node.filter((f) => f.field === 1 || f.field === 2).map((f) => text(f.payload)), ['probs_t', 'probabilities']);
    assert.equal(node.some((f) => f.field === 7 || f.field === 5), false, 'no domain, no attributes');
    const output = parseFields(graph.find((f) => f.field === 12)!.payload!);
    const tensorType = parseFields(parseFields(output.find((f) => f.field === 2)!.payload!)[0].payload!);
    assert.equal(tensorType.find((f) => f.field === 1)!.varint, 1n, 'elem_type FLOAT');
  });
}

test('a default-domain opset import is added only when missing', () => {
  const opsets = (b: Uint8Array) => parseFields(b).filter((f) => f.field === 8).map((f) => text(parseFields(f.payload!).find((x) => x.field === 1)?.payload));
  assert.deepEqual(opsets(rewriteZipMaps(zipmapModel([0n, 1n], false, false)).bytes), ['ai.onnx.ml', '']);
  assert.deepEqual(opsets(rewriteZipMaps(zipmapModel([0n, 1n], false, true)).bytes), ['ai.onnx.ml', '']);
});

test('a model without ZipMap is returned as the same bytes', () => {
  const node = concat([lenField(1, 'x'), lenField(2, 'y'), lenField(4, 'Relu')]);
  const model = concat([varintField(1, 8), lenField(7, concat([lenField(1, node)]))]);
  const r = rewriteZipMaps(model);
  assert.equal(r.bytes, model);
  assert.deepEqual(r.zipmaps, []);
});
