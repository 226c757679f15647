/**
 * Numeric lists (Seldon `data.ndarray`, V2 `data`, KServe V1 `instances`) read straight from the body's bytes into a
 * Float64Array. JSON.parse of 2.4 M rows builds 2.4 M JS arrays and ~10 M heap numbers (over 30 times the body in
 * memory); this keeps the extra memory to the typed array, and from SCAN_BODY up it is also faster. Smaller bodies
 * stay on JSON.parse, the fastest there; anything the scanner does not recognise (strings, booleans, ragged rows, the
 * key elsewhere) falls back to the ordinary parse.
 */
import { randomBytes } from 'node:crypto';

/** Bodies from this size are scanned into shared memory (a native worker thread reads them in place). */
export const LARGE_BODY = 1 << 20;
/**
 * Bodies from this size are scanned at all: past ~8 KiB the scanner beats JSON.parse plus the walk of its nested
 * arrays (1000 iris rows of 17-digit numbers, 76 kB: 284 us against 400 us), below it JSON.parse is faster.
 */
export const SCAN_BODY = 8 << 10;

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

const PLACEHOLDER = `\u0000mf-ndarray-${randomBytes(6).toString('hex')}`;

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
  return scanNumericList(body, 'ndarray', parse, true, (msg, marker, value) => {
    const data = (msg as { data?: Record<string, unknown> } | null)?.data;
    if (!data || data.ndarray !== marker) return false; // the key was not data.ndarray
    data.ndarray = value;
    return true;
  }) as Record<string, unknown> | undefined;
}

/**
 * The general form: the first list under `key` (outside strings) read as numbers, the rest of the document by
 * `parse` with a marker string in the list's place; `place` finds the marker where the protocol expects the list,
 * puts the DecodedArray there and says whether it did. `python`: NaN / Infinity / -Infinity literals are values
 * (else the document is left to the caller's parse, which names the literal in its 400). Undefined: parse normally.
 */
export function scanNumericList(
  body: Buffer,
  key: string,
  parse: (text: string) => unknown,
  python: boolean,
  place: (msg: unknown, marker: string, value: DecodedArray) => boolean,
): unknown {
  const keyBytes = Buffer.from(JSON.stringify(key));
  let at = body.indexOf(keyBytes);
  // A key inside a string, or one not followed by a list, is skipped for the next.
  let i = -1;
  for (; at >= 0; at = body.indexOf(keyBytes, at + 1)) {
    if (insideString(body, at)) continue;
    i = at + keyBytes.length;
    while (isSpace(body[i])) i++;
    if (body[i] !== C.Colon) continue;
    i++;
    while (isSpace(body[i])) i++;
    if (body[i] === C.Open) break;
  }
  if (at < 0) return undefined;
  const start = i;
  const scanned = scanNumbers(body, start, python);
  if (!scanned) return undefined;
  const rest = body.toString('utf8', 0, start) + JSON.stringify(PLACEHOLDER) + body.toString('utf8', scanned.end);
  let msg: unknown;
  try {
    msg = parse(rest);
  } catch {
    return undefined;
  }
  return place(msg, PLACEHOLDER, new DecodedArray(scanned.shape, scanned.data)) ? msg : undefined;
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

/** Exact powers of ten: a mantissa under 2^53 times or over one of them rounds once, so the result is exact. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Where the last readNumber stopped (one past the number). */
let numberEnd = 0;

/**
 * The JSON number starting at b[i] (its end in numberEnd), correctly rounded as Number() rounds it; undefined if it is
 * not a JSON number (leading zeros, a bare sign or dot...). Up to 15 significant digits and a power of ten up to 22:
 * Clinger's fast path (one exact multiply or divide). 16-19 digits (what Python's repr and numpy's tolist write for
 * most doubles): see longDecimal. Anything else: Number() of its text.
 */
function readNumber(b: Buffer, i: number): number | undefined {
  let k = i;
  const len = b.length;
  const neg = b[k] === 0x2d;
  if (neg) k++;
  let c = b[k];
  if (!isDigit(c)) return undefined;
  if (c === 0x30 && isDigit(b[k + 1])) return undefined; // JSON has no leading zeros
  // The significant digits: the first 15 in m (exact), up to 4 more in tail (tailDigits of them), beyond that none.
  let m = 0;
  let tail = 0;
  let tailDigits = 0;
  let digits = 0;
  let exp = 0;
  for (; k < len; k++) {
    c = b[k];
    if (!isDigit(c)) break;
    if (digits > 0 || c !== 0x30) digits++;
    if (digits <= 15) m = m * 10 + (c - 0x30);
    else if (++tailDigits <= 4) tail = tail * 10 + (c - 0x30);
  }
  if (c === 0x2e) {
    k++;
    if (!isDigit(b[k])) return undefined;
    for (; k < len; k++) {
      c = b[k];
      if (!isDigit(c)) break;
      if (digits > 0 || c !== 0x30) digits++;
      if (digits <= 15) m = m * 10 + (c - 0x30);
      else if (++tailDigits <= 4) tail = tail * 10 + (c - 0x30);
      exp--;
    }
  }
  if (c === 0x65 || c === 0x45) {
    k++;
    const negExp = b[k] === 0x2d;
    if (negExp || b[k] === 0x2b) k++;
    if (!isDigit(b[k])) return undefined;
    let e = 0;
    for (; k < len && isDigit(b[k]); k++) if (e < 1e6) e = e * 10 + (b[k] - 0x30);
    exp += negExp ? -e : e;
  }
  numberEnd = k;
  if (exp >= -22 && exp <= 22) {
    if (digits <= 15) {
      const v = exp >= 0 ? m * POW10[exp] : m / POW10[-exp];
      return neg ? -v : v;
    }
    if (tailDigits <= 4 && exp <= 0) {
      const v = longDecimal(m, tail, tailDigits, POW10[-exp]);
      if (v !== undefined) return neg ? -v : v;
    }
  }
  return Number(b.toString('latin1', i, k)); // V8's exact conversion, sign included
}

/** Dekker's splitter, 2^27 + 1: halves a double's significand into two 26-bit parts whose products are exact. */
const SPLITTER = 134217729;
/** The rounding error of the product p = fl(a * b): a * b = p + twoProductError(a, b, p) exactly (Dekker). */
function twoProductError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}
const TWO_POW_MINUS_80 = 2 ** -80;

/**
 * (m * 10^tailDigits + tail) / p, correctly rounded, or undefined in the rare case this cannot tell (then the caller
 * takes Number()). The decimal's integer M (up to 19 digits, past 2^53) is held exactly as a double-double, divided by
 * the exact power of ten in double-double arithmetic (error under 2^-100 of the value), and the result accepted only
 * when the rounding of every value within 2^-80 of it is the same double: never near a halfway point.
 */
function longDecimal(m: number, tail: number, tailDigits: number, p: number): number | undefined {
  const scale = POW10[tailDigits];
  const hi0 = m * scale;
  const lo0 = twoProductError(m, scale, hi0);
  const s = hi0 + tail; // TwoSum: s + sErr = hi0 + tail exactly
  const bv = s - hi0;
  const sErr = hi0 - (s - bv) + (tail - bv);
  const t = lo0 + sErr; // both integers of at most 12 bits: exact, and M = s + t
  const q1 = s / p;
  const prod = q1 * p;
  const r = s - prod - twoProductError(q1, p, prod) + t; // M - q1 * p, to 2^-53 of itself
  const q2 = r / p;
  const sum = q1 + q2;
  const err = q2 - (sum - q1); // |q1| >= |q2|: q1 + q2 = sum + err exactly
  const margin = Math.abs(sum) * TWO_POW_MINUS_80;
  return sum + (err - margin) === sum && sum + (err + margin) === sum ? sum : undefined;
}

/** The literals Python's json.dumps writes (and null, NumPy's NaN in JSON), by their first byte and text. */
function readLiteral(b: Buffer, i: number, j: number, python: boolean): number | undefined {
  const n = j - i;
  const c = b[i];
  if (c === 0x6e /* n */ && n === 4 && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) return NaN;
  if (!python) return undefined;
  if (c === 0x4e /* N */ && n === 3 && b[i + 1] === 0x61 && b[i + 2] === 0x4e) return NaN;
  const t = b.toString('latin1', i, j);
  if (t === 'Infinity') return Infinity;
  if (t === '-Infinity') return -Infinity;
  return undefined;
}

/** An upper bound on the values in the list at `start`: one more than the commas after it. */
function valueBound(b: Buffer, start: number): number {
  let commas = 1;
  for (let i = start; i < b.length; i++) if (b[i] === C.Comma) commas++;
  return commas;
}

/**
 * Smaller bodies are scanned into one reused array and the values copied out, rather than into a zeroed bound of
 * half the body's length per request (16k doubles for a 1000-row body holding 4k values). Kept up to SCRATCH_MAX
 * values only.
 */
let scratch = new Float64Array(0);
const SCRATCH_MAX = 1 << 16;
function scratchOf(n: number): Float64Array {
  if (n > SCRATCH_MAX) return new Float64Array(n);
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, Math.min(SCRATCH_MAX, scratch.length * 2)));
  return scratch;
}

/** Rectangular nested lists of numbers (null / NaN / Infinity / -Infinity too) from `start`; undefined otherwise. */
function scanNumbers(b: Buffer, start: number, python: boolean): { shape: number[]; data: Float64Array; end: number } | undefined {
  // Sized once (no doubling and copying of a buffer as large as the answer's input), in shared memory: a native
  // worker thread then reads it in place instead of receiving a copy.
  // Small bodies: every value takes at least two bytes, so half the length bounds them without a counting pass.
  const large = b.length >= LARGE_BODY;
  const bound = large ? valueBound(b, start) : ((b.length - start) >> 1) + 1;
  const out = large ? new Float64Array(new SharedArrayBuffer(bound * 8)) : scratchOf(bound);
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
      if (depth === 0) return { shape: shape.slice(0, leafDepth), data: out === scratch ? out.slice(0, n) : out.subarray(0, n), end: i + 1 };
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
    let value = c === 0x2d || isDigit(c) ? readNumber(b, i) : undefined;
    let j = numberEnd;
    if (value === undefined) {
      for (j = i + 1; j < b.length; j++) {
        const d = b[j];
        if (d === C.Comma || d === C.Close || isSpace(d)) break;
      }
      value = readLiteral(b, i, j, python);
      if (value === undefined) return undefined; // not a JSON value we take (true, "x", 0x10...)
    } else {
      const d = b[j];
      if (d !== C.Comma && d !== C.Close && !isSpace(d)) return undefined; // 1x, 1.5.2, 0x10...
    }
    out[n++] = value;
    counts[depth - 1]++;
    expectValue = false;
    i = j - 1;
  }
  return undefined;
}
