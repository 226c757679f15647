/**
 * ZipMap (ai.onnx.ml) turns a [N, C] probability tensor into a sequence of {label: probability} maps, which
 * onnxruntime-node cannot return ("Non tensor type is temporarily not supported"). Converted classifiers
 * (sklearn-onnx, onnxmltools) end with one by default, so before loading we rewrite each ZipMap into an Identity:
 * the output keeps its name and becomes the [N, C] float tensor, and its class labels go to the metadata.
 * The edit is done on the wire format, so every other byte of the model is kept as it was.
 */
import { concat, lenField, parseFields, text, varintField, type WireField } from './protowire.js';

// Field numbers from onnx.proto.
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const OPSET_DOMAIN = 1;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const ATTR_NAME = 1;
const ATTR_INTS = 8;
const ATTR_STRINGS = 9;
const VALUE_INFO_NAME = 1;
const ONNX_FLOAT = 1;

export interface ZipMapRewrite {
  /** The ZipMap's output name, now a [N, C] FP32 tensor output. */
  output: string;
  /** Class labels, in column order. */
  labels: Array<string | number>;
}

export interface RewriteResult {
  bytes: Uint8Array;
  zipmaps: ZipMapRewrite[];
}

/** Returns the model unchanged (same bytes) when it has no ZipMap. */
export function rewriteZipMaps(model: Uint8Array): RewriteResult {
  const top = parseFields(model);
  const graphField = top.find((f) => f.field === MODEL_GRAPH && f.payload);
  if (!graphField) return { bytes: model, zipmaps: [] };
  const graph = parseFields(graphField.payload!);
  const zipmaps: ZipMapRewrite[] = [];
  const newGraph: Uint8Array[] = [];
  for (const f of graph) {
    if (f.field !== GRAPH_NODE) continue;
    const node = parseFields(f.payload!);
    const str = (n: number) => node.filter((x) => x.field === n).map((x) => text(x.payload));
    if (str(NODE_OP_TYPE)[0] !== 'ZipMap' || (str(NODE_DOMAIN)[0] ?? '') !== 'ai.onnx.ml') continue;
    zipmaps.push({ output: str(NODE_OUTPUT)[0], labels: zipmapLabels(node) });
  }
  if (!zipmaps.length) return { bytes: model, zipmaps };
  const rewritten = new Set(zipmaps.map((z) => z.output));
  for (const f of graph) {
    if (f.field === GRAPH_NODE) {
      const node = parseFields(f.payload!);
      const out = node.find((x) => x.field === NODE_OUTPUT);
      const op = node.find((x) => x.field === NODE_OP_TYPE);
      if (out && rewritten.has(text(out.payload)) && text(op?.payload) === 'ZipMap') {
        newGraph.push(lenField(GRAPH_NODE, identityNode(node)));
        continue;
      }
    } else if (f.field === GRAPH_OUTPUT || f.field === GRAPH_VALUE_INFO) {
      const name = text(parseFields(f.payload!).find((x) => x.field === VALUE_INFO_NAME)?.payload);
      if (rewritten.has(name)) {
        // value_info entries only annotate; the graph output is declared again as a float tensor.
        if (f.field === GRAPH_OUTPUT) newGraph.push(lenField(GRAPH_OUTPUT, floatTensorInfo(name, zipmaps.find((z) => z.output === name)!.labels.length)));
        continue;
      }
    }
    newGraph.push(f.raw);
  }
  const parts: Uint8Array[] = [];
  for (const f of top) parts.push(f.field === MODEL_GRAPH ? lenField(MODEL_GRAPH, concat(newGraph)) : f.raw);
  if (!top.some((f) => f.field === MODEL_OPSET_IMPORT && !text(parseFields(f.payload!).find((x) => x.field === OPSET_DOMAIN)?.payload))) {
    // Identity lives in the default domain; a model made only of ai.onnx.ml operators may not import it.
    parts.push(lenField(MODEL_OPSET_IMPORT, concat([lenField(OPSET_DOMAIN, ''), varintField(2, 13)])));
  }
  return { bytes: concat(parts), zipmaps };
}

function identityNode(zipmap: WireField[]): Uint8Array {
  const keep = zipmap.filter((x) => x.field === NODE_INPUT || x.field === NODE_OUTPUT || x.field === NODE_NAME).map((x) => x.raw);
  return concat([...keep, lenField(NODE_OP_TYPE, 'Identity')]);
}

/** ValueInfoProto {name, type: {tensor_type: {elem_type: FLOAT, shape: [N, classes]}}}. */
function floatTensorInfo(name: string, classes: number): Uint8Array {
  const dim = (d: Uint8Array) => lenField(1, d);
  const shape = concat([dim(lenField(2, 'N')), dim(varintField(1, classes))]);
  const tensorType = concat([varintField(1, ONNX_FLOAT), lenField(2, shape)]);
  return concat([lenField(VALUE_INFO_NAME, name), lenField(2, lenField(1, tensorType))]);
}

function zipmapLabels(node: WireField[]): Array<string | number> {
  for (const a of node.filter((x) => x.field === NODE_ATTRIBUTE)) {
    const attr = parseFields(a.payload!);
    const name = text(attr.find((x) => x.field === ATTR_NAME)?.payload);
    if (name === 'classlabels_strings') return attr.filter((x) => x.field === ATTR_STRINGS).map((x) => text(x.payload));
    if (name === 'classlabels_int64s') {
      const ints: number[] = [];
      for (const x of attr.filter((y) => y.field === ATTR_INTS)) {
        if (x.varint !== undefined) ints.push(Number(BigInt.asIntN(64, x.varint)));
        else for (const p of parseFields(packedAsFields(x.payload!))) ints.push(Number(BigInt.asIntN(64, p.varint!)));
      }
      return ints;
    }
  }
  return [];
}

/** A packed repeated varint is a run of bare varints; prefixing each with a field-1 tag lets parseFields read them. */
function packedAsFields(packed: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < packed.length) {
    out.push(8);
    do out.push(packed[i]);
    while (packed[i++] & 0x80 && i < packed.length);
  }
  return Uint8Array.from(out);
}
