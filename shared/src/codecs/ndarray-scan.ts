/**
 * Large Seldon bodies: `data.ndarray` of numbers read straight from the body's bytes into a Float64Array. JSON.parse
 * of 2.4 M rows builds 2.4 M JS arrays and ~10 M heap numbers (over 30 times the body in memory); this keeps the
 * extra memory to the typed array. Only bodies past LARGE_BODY take this path (small ones stay on JSON.parse, the
 * fastest there); anything it does not recognise (strings, booleans, ragged rows, the key elsewhere) falls back
 * to the ordinary parse.
 */
import { randomBytes } from 'node:crypto';

export const LARGE_BODY = 1 << 20;

/** An ndarray already decoded to numbers; ndarrayToTensor takes it as is. */
export class DecodedArray {
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {}

  /** As the nested lists it came from, for code that forwards the message as JSON (graphs, user classes). */
  toJSON(): unknown {
    const walk = (depth: number, offset: number, stride: number): unknown[] => {
      const n = this.shape[depth];
      const inner = stride / n;
      return Array.from({ length: n }, (_, k) =>
        depth === this.shape.length - 1 ? (Number.isFinite(this.data[offset + k]) ? this.data[offset + k] : null) : walk(depth + 1, offset + k * inner, inner),
      );
    };
    return walk(0, 0, this.data.length);
  }
}

const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const PLACEHOLDER = `\u0000mf-ndarray-${randomBytes(6).toString('hex')}`;
const KEY = Buffer.from('"ndarray"');

const enum C {
  Quote = 0x22,
  Backslash = 0x5c,
  Open = 0x5b,
  Close = 0x5d,
  Comma = 0x2c,
  Colon = 0x3a,
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Returns the message with data.ndarray as a DecodedArray, or undefined to let the caller parse the body normally.
 * `parse` is the caller's JSON parse for the rest of the document (the Seldon one takes NaN literals).
 */
export function scanSeldonNdarray(body: Buffer, parse: (text: string) => unknown): Record<string, unknown> | undefined {
  const at = body.indexOf(KEY);
  if (at < 0 || insideString(body, at)) return undefined;
  let i = at + KEY.length;
  while (isSpace(body[i])) i++;
  if (body[i] !== C.Colon) return undefined;
  i++;
  while (isSpace(body[i])) i++;
  if (body[i] !== C.Open) return undefined;
  const start = i;
  const scanned = scanNumbers(body, start);
  if (!scanned) return undefined;
  const rest = body.toString('utf8', 0, start) + JSON.stringify(PLACEHOLDER) + body.toString('utf8', scanned.end);
  let msg: unknown;
  try {
    msg = parse(rest);
  } catch {
    return undefined;
  }
  const data = (msg as { data?: Record<string, unknown> } | null)?.data;
  if (!data || data.ndarray !== PLACEHOLDER) return undefined; // the key was not data.ndarray
  data.ndarray = new DecodedArray(scanned.shape, scanned.data);
  return msg as Record<string, unknown>;
}

/** Is byte offset `at` inside a JSON string? (Counts unescaped quotes before it.) */
function insideString(b: Buffer, at: number): boolean {
  let inside = false;
  for (let i = 0; i < at; i++) {
    const c = b[i];
    if (inside && c === C.Backslash) i++;
    else if (c === C.Quote) inside = !inside;
  }
  return inside;
}

/** Rectangular nested lists of numbers (null / NaN / Infinity / -Infinity too) from `start`; undefined otherwise. */
function scanNumbers(b: Buffer, start: number): { shape: number[]; data: Float64Array; end: number } | undefined {
  let out = new Float64Array(1 << 16);
  let n = 0;
  const shape: number[] = []; // lengths of the first list seen at each depth
  const counts: number[] = [];
  let depth = 0;
  let leafDepth = -1;
  let expectValue = true;
  let i = start;
  for (; i < b.length; i++) {
    const c = b[i];
    if (isSpace(c)) continue;
    if (c === C.Open) {
      if (!expectValue || (leafDepth >= 0 && depth >= leafDepth)) return undefined;
      if (depth > 0) counts[depth - 1]++;
      counts[depth] = 0;
      if (++depth > 32) return undefined; // numpy's limit: the general path answers the 400
      expectValue = true;
      continue;
    }
    if (c === C.Close) {
      depth--;
      const len = counts[depth];
      if (expectValue && len > 0) return undefined; // trailing comma
      if (shape[depth] === undefined) shape[depth] = len;
      else if (shape[depth] !== len) return undefined; // ragged
      if (len === 0 && leafDepth < 0) return undefined; // empty lists: leave to the general path
      expectValue = false;
      if (depth === 0) return { shape: shape.slice(0, leafDepth), data: out.subarray(0, n), end: i + 1 };
      continue;
    }
    if (c === C.Comma) {
      if (expectValue) return undefined;
      expectValue = true;
      continue;
    }
    // a scalar
    if (!expectValue || depth === 0) return undefined;
    if (leafDepth < 0) leafDepth = depth;
    else if (leafDepth !== depth) return undefined;
    let j = i;
    while (j < b.length) {
      const d = b[j];
      if (d === C.Comma || d === C.Close || isSpace(d)) break;
      j++;
    }
    const token = b.toString('latin1', i, j);
    let v: number;
    if (token === 'null' || token === 'NaN') v = NaN;
    else if (token === 'Infinity') v = Infinity;
    else if (token === '-Infinity') v = -Infinity;
    else {
      if (!NUMBER.test(token)) return undefined; // not a JSON number (true, "x", 0x10...)
      v = Number(token);
    }
    if (n === out.length) {
      const grown = new Float64Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[n++] = v;
    counts[depth - 1]++;
    expectValue = false;
    i = j - 1;
  }
  return undefined;
}
