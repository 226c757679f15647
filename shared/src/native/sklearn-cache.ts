/**
 * The native export of a sklearn pickle, kept so a restart or a second replica skips Python: the export and its
 * probe batch (sklearn's own outputs) are stored under a key of the pickle's SHA-256, modelfleet's version and the
 * exporter's own text; the entry also names the scikit-learn that made it (version and its __init__.py), checked by
 * reading that file, so an upgraded scikit-learn or another PYTHON_BIN re-runs the export. The parity check itself
 * is JavaScript on the stored probe and runs on every load.
 *
 * Lookup: `<model file>.modelfleet-native.json` beside the pickle (written by `modelfleet export`, at image build or
 * download time), then MODELFLEET_CACHE_DIR (default ~/.cache/modelfleet, else the temp folder), where loads write.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';
import { exportSklearnFile, type SklearnExportResult } from './sklearn-parity.js';

const EXPORTER = fileURLToPath(new URL('../../python/modelfleet_sklearn_export.py', import.meta.url));
export const BESIDE_SUFFIX = '.modelfleet-native.json';

interface Entry {
  key: string;
  pythonBin: string;
  sklearn: { version: string; file: string };
  result: SklearnExportResult;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELFLEET_CACHE_DIR) return env.MODELFLEET_CACHE_DIR;
  const home = os.homedir();
  return home && home !== '/' ? path.join(home, '.cache', 'modelfleet') : path.join(os.tmpdir(), 'modelfleet-cache');
}

function keyOf(file: string, ranges?: [number, number][]): { key: string; sha: string } {
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  const key = createHash('sha256')
    .update(`${sha}\0${VERSION}\0${JSON.stringify(ranges ?? null)}\0`)
    .update(readFileSync(EXPORTER))
    .digest('hex');
  return { key, sha };
}

/** scikit-learn's version as its installed __init__.py states it, without starting Python. */
function installedSklearnVersion(initFile: string): string | undefined {
  try {
    return /^__version__\s*=\s*["']([^"']+)["']/m.exec(readFileSync(initFile, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function readEntry(file: string, key: string, pythonBin: string | undefined): Entry | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as Entry;
    if (e.key !== key || (pythonBin && e.pythonBin !== pythonBin)) return undefined;
    return installedSklearnVersion(e.sklearn.file) === e.sklearn.version ? e : undefined;
  } catch {
    return undefined; // unreadable or half-written: export again
  }
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export interface CachedExport {
  result: SklearnExportResult;
  /** Where it came from: 'beside' the model, the 'cache' folder, or a fresh Python 'export'. */
  source: 'beside' | 'cache' | 'export';
}

/**
 * The export of `file`, from a cache entry whose key matches, or from Python (then stored in the cache folder, or
 * beside the model when `beside` is set, as `modelfleet export` does). A store that fails only logs: a read-only
 * home does not stop a server.
 */
export async function exportSklearnCached(
  file: string,
  opts: { pythonBin: () => Promise<string>; ranges?: [number, number][]; beside?: boolean; warn?: (m: string) => void },
): Promise<CachedExport> {
  const { key, sha } = keyOf(file, opts.ranges);
  const wantedBin = process.env.PYTHON_BIN;
  const besideFile = file + BESIDE_SUFFIX;
  const cacheFile = path.join(cacheDir(), 'sklearn', `${sha}.json`);
  if (!opts.beside) {
    const beside = readEntry(besideFile, key, wantedBin);
    if (beside) return { result: beside.result, source: 'beside' };
    const cached = readEntry(cacheFile, key, wantedBin);
    if (cached) return { result: cached.result, source: 'cache' };
  }
  const pythonBin = await opts.pythonBin();
  const result = await exportSklearnFile(file, { pythonBin, ranges: opts.ranges });
  const { sklearn_file: sklearnFile, ...rest } = result as SklearnExportResult & { sklearn_file?: string };
  if (sklearnFile && result.sklearn_version) {
    const entry: Entry = { key, pythonBin, sklearn: { version: result.sklearn_version, file: sklearnFile }, result: rest };
    try {
      writeAtomically(opts.beside ? besideFile : cacheFile, JSON.stringify(entry));
    } catch (err) {
      if (opts.beside) throw err;
      opts.warn?.(`cannot keep the native export in ${cacheFile} (${(err as Error).message}); the next start exports again`);
    }
  }
  return { result: rest, source: 'export' };
}
