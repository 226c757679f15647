import type { Datatype, NumericArray, Tensor } from '../tensor.js';
import { arrayCtor, elementCount } from '../tensor.js';

/**
 * Tensors <-> the bridge's frame: numeric data as one little-endian byte block with per-tensor offsets (the
 * platforms we run on are little-endian, so this is a copy, not a conversion); BYTES as JSON strings.
 */

/** Packs tensors into a header list and one byte block. */
export function packNumeric(tensors: Tensor[]): { header: object[]; bytes: Buffer } {
  let total = 0;
  for (const t of tensors) if (t.datatype !== 'BYTES') total += (t.data as NumericArray).byteLength;
  const bytes = Buffer.allocUnsafe(total);
  let offset = 0;
  const header = tensors.map((t) => {
    if (t.datatype === 'BYTES') {
      const data = (t.data as Array<string | Uint8Array>).map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')));
      return { name: t.name, datatype: t.datatype, shape: t.shape, data };
    }
    const a = t.data as NumericArray;
    const entry = { name: t.name, datatype: t.datatype, shape: t.shape, offset, count: a.length };
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(bytes, offset);
    offset += a.byteLength;
    return entry;
  });
  return { header, bytes };
}

/** Rebuilds tensors from a reply header and its byte block; numeric data is copied once into aligned typed arrays. */
export interface FrameTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Numeric tensors: where their bytes are in the block. */
  offset?: number;
  bytes?: number;
  /** BYTES tensors: the strings. */
  data?: string[];
}

export function unpackNumeric(header: FrameTensor[], block: Buffer): Tensor[] {
  return header.map((h) => {
    if (h.datatype === 'BYTES') return { name: h.name, datatype: 'BYTES', shape: h.shape, data: h.data ?? [] };
    const Ctor = arrayCtor(h.datatype);
    const start = block.byteOffset + (h.offset ?? 0);
    const aligned = block.buffer.slice(start, start + (h.bytes ?? 0));
    const data = new Ctor(aligned, 0, elementCount(h.shape));
    return { name: h.name, datatype: h.datatype, shape: h.shape, data };
  });
}
