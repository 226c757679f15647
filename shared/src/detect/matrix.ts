/** Row-major float64 matrices: the detectors' input (one row per instance) and saved arrays. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

export function column(m: Matrix, f: number): Float64Array {
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) out[r] = m.data[r * m.cols + f];
  return out;
}

/** Saved arrays are little-endian float64 in base64, so values survive a save/load exactly. */
export interface EncodedArray {
  dtype: 'f8';
  shape: number[];
  b64: string;
}

export function encodeArray(a: Float64Array, shape: number[]): EncodedArray {
  return { dtype: 'f8', shape, b64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') };
}

export function decodeArray(e: EncodedArray, what: string): Float64Array {
  if (!e || e.dtype !== 'f8' || !Array.isArray(e.shape) || typeof e.b64 !== 'string') throw new Error(`${what}: not an encoded f8 array`);
  const bytes = Buffer.from(e.b64, 'base64');
  const n = e.shape.reduce((p, d) => p * d, 1);
  if (bytes.length !== n * 8) throw new Error(`${what}: ${bytes.length} bytes for shape [${e.shape}]`);
  const out = new Float64Array(n);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** numpy.percentile with its default linear interpolation. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) throw new RangeError('percentile of no values');
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  const frac = pos - lo;
  // numpy's _lerp: a + (b - a) * t, switching to b - (b - a) * (1 - t) for t >= 0.5.
  const a = s[lo], b = s[hi], diff = b - a;
  return frac >= 0.5 ? b - diff * (1 - frac) : a + diff * frac;
}
