/**
 * Background (training) rows for explainers: a `.npy` array (float/int, C order, 2-D) or a CSV file of numbers,
 * whose first line may be the feature names. A directory is searched for one such file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ExplainError } from './errors.js';

export interface Background {
  X: Float64Array;
  nRows: number;
  nFeatures: number;
  names?: string[];
}

export function loadBackground(path: string): Background {
  let file = path;
  if (statSync(path).isDirectory()) {
    const found = readdirSync(path)
      .filter((f) => ['.npy', '.csv'].includes(extname(f).toLowerCase()))
      .sort();
    if (!found.length) throw new ExplainError(`no .npy or .csv background data in ${path}`);
    file = join(path, found[0]);
  }
  const bytes = readFileSync(file);
  return extname(file).toLowerCase() === '.npy' ? parseNpy(bytes, file) : parseCsv(bytes.toString('utf8'), file);
}

const NPY_TYPES: Record<string, (b: Buffer, n: number) => ArrayLike<number>> = {
  '<f8': (b, n) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + 8 * n)),
  '<f4': (b, n) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + 4 * n)),
  '<i8': (b, n) => Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + 8 * n)), Number),
  '<i4': (b, n) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + 4 * n)),
};

/** NumPy's format (numpy/lib/format.py): magic, version, header length, a Python dict literal, then the data. */
export function parseNpy(b: Buffer, where = 'npy'): Background {
  if (b.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new ExplainError(`${where} is not a .npy file`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const read = NPY_TYPES[descr];
  if (!read) throw new ExplainError(`${where}: dtype ${descr} is not supported (use float64, float32, int64 or int32)`);
  if (fortran) throw new ExplainError(`${where}: Fortran-ordered arrays are not supported (save np.ascontiguousarray(x))`);
  if (shape.length !== 2) throw new ExplainError(`${where}: expected a 2-D array (rows x features), got shape (${shape})`);
  const n = shape[0] * shape[1];
  return { X: Float64Array.from(read(b.subarray(start + headerLen), n)), nRows: shape[0], nFeatures: shape[1] };
}

export function parseCsv(text: string, where = 'csv'): Background {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!lines.length) throw new ExplainError(`${where} is empty`);
  let names: string[] | undefined;
  const first = lines[0].split(',').map((s) => s.trim());
  if (first.some((s) => s !== '' && Number.isNaN(Number(s)) && s.toLowerCase() !== 'nan')) {
    names = first.map((s) => s.replace(/^"(.*)"$/, '$1'));
    lines.shift();
  }
  const nFeatures = names?.length ?? first.length;
  const X = new Float64Array(lines.length * nFeatures);
  lines.forEach((line, r) => {
    const cells = line.split(',');
    if (cells.length !== nFeatures) throw new ExplainError(`${where} line ${r + (names ? 2 : 1)}: ${cells.length} values, expected ${nFeatures}`);
    cells.forEach((c, j) => {
      const v = c.trim() === '' ? NaN : Number(c);
      if (Number.isNaN(v) && !/^\s*(nan)?\s*$/i.test(c)) throw new ExplainError(`${where} line ${r + (names ? 2 : 1)}: '${c}' is not a number`);
      X[r * nFeatures + j] = v;
    });
  });
  return { X, nRows: lines.length, nFeatures, names };
}

/** Every k-th row so at most `max` remain (deterministic, keeps the data's spread better than the first rows). */
export function subsample(bg: Background, max: number): Background {
  if (bg.nRows <= max) return bg;
  const M = bg.nFeatures;
  const X = new Float64Array(max * M);
  for (let i = 0; i < max; i++) {
    const r = Math.floor((i * bg.nRows) / max);
    X.set(bg.X.subarray(r * M, (r + 1) * M), i * M);
  }
  return { ...bg, X, nRows: max };
}
