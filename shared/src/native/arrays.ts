/**
 * Typed arrays backed by SharedArrayBuffer, named so that a model's arrays can be listed in plain JSON metadata and
 * rebuilt over the same memory in a worker thread (no copy per worker).
 */
export type ArrayType = 'f64' | 'f32' | 'i32' | 'u8';
export type NumArray = Float64Array | Float32Array | Int32Array | Uint8Array;

const CTORS = { f64: Float64Array, f32: Float32Array, i32: Int32Array, u8: Uint8Array } as const;

export function arrayTypeOf(a: NumArray): ArrayType {
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  return 'u8';
}

type ArrayOf = { f64: Float64Array; f32: Float32Array; i32: Int32Array; u8: Uint8Array };

function view<T extends ArrayType>(type: T, buffer: ArrayBufferLike, offset: number, length: number): ArrayOf[T] {
  switch (type) {
    case 'f64': return new Float64Array(buffer, offset, length) as ArrayOf[T];
    case 'f32': return new Float32Array(buffer, offset, length) as ArrayOf[T];
    case 'i32': return new Int32Array(buffer, offset, length) as ArrayOf[T];
    default: return new Uint8Array(buffer, offset, length) as ArrayOf[T];
  }
}

export function sharedArray<T extends ArrayType>(type: T, length: number): ArrayOf[T] {
  return view(type, new SharedArrayBuffer(Math.max(1, length) * CTORS[type].BYTES_PER_ELEMENT), 0, length);
}

/** Copies into shared memory unless the array already lives there. */
export function toShared<T extends NumArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = sharedArray(arrayTypeOf(a), a.length) as T;
  s.set(a as never);
  return s;
}

export interface ArrayDesc {
  name: string;
  type: ArrayType;
  offset: number;
  length: number;
}

/** Packs named arrays: descriptors go into metadata, buffers travel separately. */
export function packArrays(arrays: Record<string, NumArray>): { descs: ArrayDesc[]; buffers: (SharedArrayBuffer | ArrayBuffer)[] } {
  const descs: ArrayDesc[] = [];
  const buffers: (SharedArrayBuffer | ArrayBuffer)[] = [];
  for (const [name, a] of Object.entries(arrays)) {
    descs.push({ name, type: arrayTypeOf(a), offset: a.byteOffset, length: a.length });
    buffers.push(a.buffer);
  }
  return { descs, buffers };
}

export function unpackArrays(descs: ArrayDesc[], buffers: (SharedArrayBuffer | ArrayBuffer)[]): Record<string, NumArray> {
  if (descs.length !== buffers.length) throw new Error(`transferable has ${buffers.length} buffers, metadata lists ${descs.length}`);
  const out: Record<string, NumArray> = {};
  descs.forEach((d, i) => {
    out[d.name] = view(d.type, buffers[i], d.offset, d.length);
  });
  return out;
}
