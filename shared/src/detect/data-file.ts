/** Reference data for `modelfleet detector fit`: CSV (an optional header row is skipped) or NumPy .npy (2-d, C order). */
import { readFileSync } from 'node:fs';
import type { Matrix } from './matrix.js';

export function readMatrix(file: string): Matrix {
  const buf = readFileSync(file);
  return file.toLowerCase().endsWith('.npy') ? parseNpy(buf, file) : parseCsv(buf.toString('utf8'), file);
}

export function parseCsv(text: string, what = 'csv'): Matrix {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const rows: number[][] = [];
  lines.forEach((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const vals = cells.map(Number);
    if (vals.some((v, j) => Number.isNaN(v) && cells[j].toLowerCase() !== 'nan')) {
      if (i === 0) return; // header
      throw new Error(`${what}: line ${i + 1} has a value that is not a number`);
    }
    rows.push(vals);
  });
  if (!rows.length) throw new Error(`${what}: no data rows`);
  const cols = rows[0].length;
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`${what}: row ${i + 1} has ${r.length} values, the first has ${cols}`);
  });
  return { data: Float64Array.from(rows.flat()), rows: rows.length, cols };
}

const NPY_TYPES: Record<string, (b: Buffer, o: number) => number> = {
  '<f8': (b, o) => b.readDoubleLE(o),
  '<f4': (b, o) => b.readFloatLE(o),
  '<i8': (b, o) => Number(b.readBigInt64LE(o)),
  '<i4': (b, o) => b.readInt32LE(o),
  '|u1': (b, o) => b.readUInt8(o),
  '|b1': (b, o) => b.readUInt8(o),
};
const NPY_SIZE: Record<string, number> = { '<f8': 8, '<f4': 4, '<i8': 8, '<i4': 4, '|u1': 1, '|b1': 1 };

export function parseNpy(buf: Buffer, what = 'npy'): Matrix {
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${what}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !(descr in NPY_TYPES)) throw new Error(`${what}: dtype ${descr} is not supported (float64, float32, int64, int32, uint8, bool)`);
  if (fortran !== 'False') throw new Error(`${what}: Fortran-ordered arrays are not supported`);
  const dims = (shape ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.length !== 2) throw new Error(`${what}: expected a 2-d array (rows x features), got shape (${shape})`);
  const [rows, cols] = dims;
  const read = NPY_TYPES[descr], size = NPY_SIZE[descr], off = start + hlen;
  if (buf.length < off + rows * cols * size) throw new Error(`${what}: truncated data`);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = read(buf, off + i * size);
  return { data, rows, cols };
}
