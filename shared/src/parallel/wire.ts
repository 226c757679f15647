import type { Datatype, NumericArray, Parameters, Tensor } from '../tensor.js';
import { arrayCtor, elementCount } from '../tensor.js';

/** What crosses between the event loop and a worker: tensors with their data, plus a typed error channel. */
export interface WireTask {
  inputs: Tensor[];
  outputs: string[];
  parameters: Parameters;
}

export interface WireError {
  kind: 'bad_input' | 'internal' | 'load';
  message: string;
  type?: string;
  trace?: string;
}

export type WireResult = { outputs: Tensor[] } | { error: WireError };

/** Packs numeric tensors into one little-endian byte block with per-tensor offsets (the platforms we run on are LE). */
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

/** Rebuilds tensors from a header and a byte block; numeric data is copied once into aligned typed arrays. */
export function unpackNumeric(
  header: Array<{ name: string; datatype: Datatype; shape: number[]; offset?: number; bytes?: number; data?: string[] }>,
  block: Buffer,
): Tensor[] {
  return header.map((h) => {
    if (h.datatype === 'BYTES') return { name: h.name, datatype: 'BYTES', shape: h.shape, data: h.data ?? [] };
    const Ctor = arrayCtor(h.datatype);
    const start = block.byteOffset + (h.offset ?? 0);
    const aligned = block.buffer.slice(start, start + (h.bytes ?? 0));
    const data = new Ctor(aligned, 0, elementCount(h.shape));
    return { name: h.name, datatype: h.datatype, shape: h.shape, data };
  });
}
