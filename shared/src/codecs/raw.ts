/**
 * Raw tensor bytes as the V2 binary extension and gRPC raw_*_contents carry them: little-endian, row-major,
 * BOOL one byte, BYTES elements each prefixed by a uint32 length.
 */
import { badInput } from '../errors.js';
import type { BytesArray, Datatype, NumericArray, Tensor } from '../tensor.js';
import { arrayCtor, elementCount, WIRE_BYTES } from '../tensor.js';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './half.js';

export function decodeRaw(name: string, datatype: Datatype, shape: number[], bytes: Uint8Array): Tensor {
  const count = elementCount(shape);
  if (datatype === 'BYTES') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data: BytesArray = [];
    let pos = 0;
    while (pos < bytes.length) {
      if (pos + 4 > bytes.length) throw badInput(`input ${name}: truncated BYTES length prefix`);
      const len = view.getUint32(pos, true);
      pos += 4;
      if (pos + len > bytes.length) throw badInput(`input ${name}: BYTES element runs past the end of the data`);
      data.push(Buffer.from(bytes.buffer, bytes.byteOffset + pos, len).toString('utf8'));
      pos += len;
    }
    if (data.length !== count) throw badInput(`input ${name}: shape [${shape}] needs ${count} BYTES elements, got ${data.length}`);
    return { name, datatype, shape, data };
  }
  const size = WIRE_BYTES[datatype];
  if (bytes.length !== count * size) {
    throw badInput(`input ${name}: shape [${shape}] of ${datatype} needs ${count * size} bytes, got ${bytes.length}`);
  }
  if (datatype === 'FP16' || datatype === 'BF16') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(count);
    const conv = datatype === 'FP16' ? halfToFloat : bf16ToFloat;
    for (let i = 0; i < count; i++) out[i] = conv(view.getUint16(i * 2, true));
    return { name, datatype, shape, data: out };
  }
  const Ctor = arrayCtor(datatype);
  // Copy into a fresh buffer: typed arrays need aligned offsets and the request buffer is not ours to keep.
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return { name, datatype, shape, data: new Ctor(copy, 0, count) };
}

export function encodeRaw(t: Tensor): Uint8Array {
  if (t.datatype === 'BYTES') {
    const parts = (t.data as BytesArray).map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
    const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
    let pos = 0;
    for (const p of parts) {
      out.writeUInt32LE(p.length, pos);
      out.set(p, pos + 4);
      pos += 4 + p.length;
    }
    return out;
  }
  const d = t.data as NumericArray;
  if (t.datatype === 'FP16' || t.datatype === 'BF16') {
    const out = Buffer.allocUnsafe(d.length * 2);
    const conv = t.datatype === 'FP16' ? floatToHalf : floatToBf16;
    for (let i = 0; i < d.length; i++) out.writeUInt16LE(conv(d[i] as number), i * 2);
    return out;
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
