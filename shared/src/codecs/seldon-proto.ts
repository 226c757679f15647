/**
 * seldon.protos messages as @grpc/proto-loader objects (keepCase, oneofs, bytes as Buffers) to and from the
 * proto3-JSON shape the Seldon codec and handlers work on, so gRPC and REST share one implementation.
 */
import { jsonToList, jsonToValue, listToJson, valueToJson } from './protobuf-struct.js';
import { Bail, FIXED64, LEN, tryRead, VARINT, WireReader, WireWriter } from './protobuf-wire.js';

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

/*
 * The fast path: a SeldonMessage whose data is a numeric tensor or ndarray, with at most a puid in meta (what
 * clients send to predict), read from the wire straight into the proto3-JSON shape, and answers of that kind written
 * straight to the wire. Anything else (status, tags, tftensor, strings in an ndarray, binData, ...) returns
 * undefined and goes through protobufjs and the converters above, so both paths give the same message.
 */

/** seldon.protos.SeldonMessage bytes in proto3-JSON shape, or undefined when off the fast path. */
export function seldonFromWire(buf: Buffer): Obj | undefined {
  return tryRead(() => {
    const r = new WireReader(buf);
    const out: Obj = {};
    while (!r.done) {
      const tag = r.varint();
      if (tag === ((2 << 3) | LEN) && out.meta === undefined) out.meta = readMeta(r, r.len());
      else if (tag === ((3 << 3) | LEN) && out.data === undefined) out.data = readDefaultData(r, r.len());
      else throw new Bail();
    }
    return out;
  });
}

function readMeta(r: WireReader, end: number): Obj {
  let puid = '';
  while (r.pos < end) {
    if (r.varint() !== ((1 << 3) | LEN)) throw new Bail();
    puid = r.string();
  }
  if (r.pos !== end) throw new Bail();
  return puid ? { puid } : {};
}

function readDefaultData(r: WireReader, end: number): Obj {
  const data: Obj = { names: [] as string[] };
  let set = false;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LEN)) data.names.push(r.string());
    else if (tag === ((2 << 3) | LEN) && !set) {
      data.tensor = readTensor(r, r.len());
      set = true;
    } else if (tag === ((3 << 3) | LEN) && !set) {
      data.ndarray = readList(r, r.len(), 0);
      set = true;
    } else throw new Bail();
  }
  if (r.pos !== end) throw new Bail();
  return data;
}

function readTensor(r: WireReader, end: number): Obj {
  const shape: number[] = [];
  const values: number[] = [];
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LEN)) {
      const e = r.len();
      while (r.pos < e) shape.push(r.int32());
      if (r.pos !== e) throw new Bail();
    } else if (tag === ((1 << 3) | VARINT)) shape.push(r.int32());
    else if (tag === ((2 << 3) | LEN)) {
      const e = r.len();
      if ((e - r.pos) % 8) throw new Bail();
      while (r.pos < e) values.push(r.double());
    } else if (tag === ((2 << 3) | FIXED64)) values.push(r.double());
    else throw new Bail();
  }
  if (r.pos !== end) throw new Bail();
  return { shape, values };
}

/** A ListValue of numbers or of ListValues (nested rows); any other Value kind bails. */
function readList(r: WireReader, end: number, depth: number): unknown[] {
  if (depth > 32) throw new Bail();
  const out: unknown[] = [];
  while (r.pos < end) {
    if (r.varint() !== ((1 << 3) | LEN)) throw new Bail();
    const e = r.len();
    let value: unknown;
    let set = false;
    while (r.pos < e) {
      const tag = r.varint();
      if (set) throw new Bail();
      if (tag === ((2 << 3) | FIXED64)) value = r.double();
      else if (tag === ((6 << 3) | LEN)) value = readList(r, r.len(), depth + 1);
      else throw new Bail();
      set = true;
    }
    if (!set || r.pos !== e) throw new Bail();
    out.push(value);
  }
  if (r.pos !== end) throw new Bail();
  return out;
}

/** A proto3-JSON-shaped SeldonMessage as wire bytes, or undefined when off the fast path. */
export function seldonToWire(j: Obj): Buffer | undefined {
  for (const k in j) if (k !== 'meta' && k !== 'data') return undefined;
  const w = new WireWriter();
  if (j.meta) {
    const meta = j.meta as Obj;
    for (const k in meta) {
      if (k === 'tags' || k === 'routing') {
        if (meta[k] && Object.keys(meta[k]).length) return undefined;
      } else if (k === 'metrics') {
        if (meta[k]?.length) return undefined;
      } else if (k !== 'puid' && k !== 'requestPath') return undefined;
    }
    const mark = w.begin(2);
    if (typeof meta.puid === 'string' && meta.puid) w.string(1, meta.puid);
    else if (meta.puid) return undefined;
    if (meta.requestPath) {
      for (const key in meta.requestPath) {
        const value = meta.requestPath[key];
        if (typeof value !== 'string') return undefined;
        const entry = w.begin(4);
        w.string(1, key);
        w.string(2, value);
        w.end(entry);
      }
    }
    w.end(mark);
  }
  if (j.data) {
    const d = j.data as Obj;
    const mark = w.begin(3);
    for (const n of d.names ?? []) {
      if (typeof n !== 'string') return undefined;
      w.string(1, n);
    }
    if (d.tensor) {
      const { shape, values } = d.tensor as { shape: unknown[]; values: unknown[] };
      const t = w.begin(2);
      if (shape.length) {
        const s = w.begin(1);
        for (const v of shape) {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) return undefined;
          w.varint(v);
        }
        w.end(s);
      }
      if (values.length) {
        w.tag(2, LEN);
        w.varint(values.length * 8);
        for (const v of values) {
          if (typeof v !== 'number') return undefined;
          w.double(v);
        }
      }
      w.end(t);
    } else if (d.ndarray) {
      const l = w.begin(3);
      if (!writeList(w, d.ndarray)) return undefined;
      w.end(l);
    } else if (d.tftensor) return undefined;
    w.end(mark);
  }
  return w.finish();
}

/** Numbers (non-finite ones as null, as jsonToValue writes them) and nested lists of them. */
function writeList(w: WireWriter, xs: unknown): boolean {
  if (!Array.isArray(xs)) return false;
  for (const x of xs) {
    const v = w.begin(1);
    if (typeof x === 'number') {
      if (Number.isFinite(x)) {
        w.tag(2, FIXED64);
        w.double(x);
      } else {
        w.tag(1, VARINT);
        w.varint(0);
      }
    } else if (Array.isArray(x)) {
      const l = w.begin(6);
      if (!writeList(w, x)) return false;
      w.end(l);
    } else return false;
    w.end(v);
  }
  return true;
}
