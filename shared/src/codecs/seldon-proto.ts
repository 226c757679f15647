/**
 * seldon.protos messages as @grpc/proto-loader objects (keepCase, oneofs, bytes as Buffers) to and from the
 * proto3-JSON shape the Seldon codec and handlers work on, so gRPC and REST share one implementation.
 */
import { jsonToList, jsonToValue, listToJson, valueToJson } from './protobuf-struct.js';

type Obj = Record<string, any>;

function metaToJson(meta: Obj | null | undefined): Obj | undefined {
  if (!meta) return undefined;
  const out: Obj = {};
  if (meta.puid) out.puid = meta.puid;
  if (meta.tags && Object.keys(meta.tags).length) out.tags = Object.fromEntries(Object.entries(meta.tags).map(([k, v]) => [k, valueToJson(v as Obj)]));
  if (meta.routing && Object.keys(meta.routing).length) out.routing = meta.routing;
  if (meta.requestPath && Object.keys(meta.requestPath).length) out.requestPath = meta.requestPath;
  if (meta.metrics?.length) out.metrics = meta.metrics;
  return out;
}

/** A SeldonMessage from the wire in proto3-JSON shape. */
export function seldonFromProto(m: Obj): Obj {
  const out: Obj = {};
  const meta = metaToJson(m.meta);
  if (meta) out.meta = meta;
  if (m.status) out.status = m.status;
  switch (m.data_oneof) {
    case 'data': {
      const d = m.data as Obj;
      const data: Obj = { names: d.names ?? [] };
      if (d.data_oneof === 'tensor') data.tensor = { shape: d.tensor.shape ?? [], values: d.tensor.values ?? [] };
      else if (d.data_oneof === 'ndarray') data.ndarray = listToJson(d.ndarray);
      else if (d.data_oneof === 'tftensor') data.tftensor = d.tftensor;
      out.data = data;
      break;
    }
    case 'binData':
      out.binData = m.binData;
      break;
    case 'strData':
      out.strData = m.strData;
      break;
    case 'jsonData':
      out.jsonData = valueToJson(m.jsonData);
      break;
    case 'customData':
      out.customData = m.customData;
      break;
  }
  return out;
}

/** A proto3-JSON-shaped SeldonMessage as a proto-loader object for the wire. */
export function seldonToProto(j: Obj): Obj {
  const out: Obj = {};
  if (j.status) out.status = j.status;
  if (j.meta) {
    const meta: Obj = { ...j.meta };
    if (meta.tags) meta.tags = Object.fromEntries(Object.entries(meta.tags).map(([k, v]) => [k, jsonToValue(v)]));
    out.meta = meta;
  }
  if (j.data) {
    const d: Obj = { names: j.data.names ?? [] };
    if (j.data.tensor) d.tensor = j.data.tensor;
    else if (j.data.ndarray) d.ndarray = jsonToList(j.data.ndarray);
    else if (j.data.tftensor) {
      const tf = { ...j.data.tftensor };
      // The JSON codec writes bytes as base64 text; protobuf wants bytes.
      if (typeof tf.tensorContent === 'string') tf.tensor_content = Buffer.from(tf.tensorContent, 'base64');
      if (Array.isArray(tf.stringVal)) tf.string_val = tf.stringVal.map((s: string) => Buffer.from(s, 'base64'));
      if (tf.tensorShape) tf.tensor_shape = tf.tensorShape;
      delete tf.tensorContent;
      delete tf.stringVal;
      delete tf.tensorShape;
      d.tftensor = tf;
    }
    out.data = d;
  } else if (j.binData !== undefined) out.binData = typeof j.binData === 'string' ? Buffer.from(j.binData, 'base64') : j.binData;
  else if (j.strData !== undefined) out.strData = j.strData;
  else if (j.jsonData !== undefined) out.jsonData = jsonToValue(j.jsonData);
  return out;
}
