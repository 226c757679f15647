import { NativeInputError } from './errors.js';

/** Which values sklearn's input validation lets through at a stage (check_array's force_all_finite). */
export type Accept = 'finite' | 'allow-nan' | 'any' | 'finite32';

/** Preprocessing steps with the same float64 operations, in the same order, as the sklearn transformers. */
export type Transform =
  | { op: 'center_scale'; sub: Float64Array | null; div: Float64Array | null; accept: Accept }
  | { op: 'mul_add'; mul: Float64Array; add: Float64Array; clip: [number, number] | null; accept: Accept }
  | { op: 'impute'; missing: number | null; fill: Float64Array; keep: Int32Array; indicator: Int32Array | null; accept: Accept }
  | { op: 'onehot'; categories: Float64Array[]; drop: number[]; unknown: 'error' | 'ignore'; accept: Accept };

export function outputWidth(t: Transform, inWidth: number): number {
  switch (t.op) {
    case 'center_scale':
    case 'mul_add':
      return inWidth;
    case 'impute':
      return t.keep.length + (t.indicator?.length ?? 0);
    case 'onehot':
      return t.categories.reduce((s, c, j) => s + c.length - (t.drop[j] >= 0 ? 1 : 0), 0);
  }
}

/** Rejects what sklearn's check_array would reject before this stage. */
export function checkAccept(X: ArrayLike<number>, accept: Accept): void {
  if (accept === 'any') return;
  for (let i = 0; i < X.length; i++) {
    const v = X[i];
    if (accept === 'finite32' ? Number.isFinite(Math.fround(v)) : Number.isFinite(v)) continue;
    if (v !== v) {
      if (accept === 'allow-nan') continue;
      throw new NativeInputError('Input X contains NaN.');
    }
    throw new NativeInputError(`Input X contains infinity or a value too large for dtype('${accept === 'finite32' ? 'float32' : 'float64'}').`);
  }
}

export function applyTransform(t: Transform, X: Float64Array, nRows: number, inWidth: number): Float64Array {
  checkAccept(X, t.accept);
  const outW = outputWidth(t, inWidth);
  const out = new Float64Array(nRows * outW);
  switch (t.op) {
    case 'center_scale':
      for (let r = 0; r < nRows; r++) {
        for (let j = 0; j < inWidth; j++) {
          let v = X[r * inWidth + j];
          if (t.sub) v -= t.sub[j];
          if (t.div) v /= t.div[j];
          out[r * outW + j] = v;
        }
      }
      return out;
    case 'mul_add':
      for (let r = 0; r < nRows; r++) {
        for (let j = 0; j < inWidth; j++) {
          let v = X[r * inWidth + j] * t.mul[j] + t.add[j];
          // np.clip keeps NaN, as does Math.min/Math.max.
          if (t.clip) v = Math.min(Math.max(v, t.clip[0]), t.clip[1]);
          out[r * outW + j] = v;
        }
      }
      return out;
    case 'impute': {
      const missing = t.missing;
      const isMissing = (v: number): boolean => (missing === null ? v !== v : v === missing);
      const nKeep = t.keep.length;
      for (let r = 0; r < nRows; r++) {
        const row = r * inWidth;
        for (let k = 0; k < nKeep; k++) {
          const v = X[row + t.keep[k]];
          out[r * outW + k] = isMissing(v) ? t.fill[k] : v;
        }
        if (t.indicator) {
          for (let k = 0; k < t.indicator.length; k++) out[r * outW + nKeep + k] = isMissing(X[row + t.indicator[k]]) ? 1 : 0;
        }
      }
      return out;
    }
    case 'onehot': {
      for (let r = 0; r < nRows; r++) {
        let col = r * outW;
        for (let j = 0; j < inWidth; j++) {
          const cats = t.categories[j];
          const v = X[r * inWidth + j];
          let idx = -1;
          for (let c = 0; c < cats.length; c++) {
            if (cats[c] === v || (v !== v && cats[c] !== cats[c])) {
              idx = c;
              break;
            }
          }
          if (idx < 0 && t.unknown === 'error') throw new NativeInputError(`Found unknown categories [${v}] in column ${j} during transform`);
          const drop = t.drop[j];
          if (idx >= 0 && idx !== drop) out[col + (drop >= 0 && idx > drop ? idx - 1 : idx)] = 1;
          col += cats.length - (drop >= 0 ? 1 : 0);
        }
      }
      return out;
    }
  }
}
