import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findPython } from '../python/interpreter.js';
import type { NativeModel } from './types.js';
import { decodeUbjson } from './ubjson.js';
import { xgboostFromDocument } from './xgboost-json.js';

const run = promisify(execFile);
const CONVERTER = fileURLToPath(new URL('../../python/modelfleet_xgb_to_json.py', import.meta.url));

export interface LoadOptions {
  pythonBin?: string;
  log?: (m: string) => void;
}

type Format = 'json' | 'ubj' | 'legacy';

/** Extension first; otherwise sniff: JSON starts `{"`, UBJSON `{` + a length marker, anything else is legacy binary. */
function formatOf(path: string, bytes: Uint8Array): Format {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.ubj') return 'ubj';
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b /* { */) {
    let j = i + 1;
    while (j < bytes.length && (bytes[j] === 0x20 || bytes[j] === 0x0a || bytes[j] === 0x0d || bytes[j] === 0x09)) j++;
    if (bytes[j] === 0x22 /* " */ || bytes[j] === 0x7d) return 'json';
    if ('iUIlL$#'.includes(String.fromCharCode(bytes[j]))) return 'ubj';
  }
  return 'legacy';
}

/**
 * Loads an XGBoost model file. JSON and UBJSON are parsed here; the legacy binary format (.bst/.model) is converted
 * once to JSON by xgboost itself in a Python subprocess, because its layout is undocumented and version-specific.
 */
export async function loadXGBoostModel(path: string, opts: LoadOptions = {}): Promise<NativeModel> {
  const log = opts.log ?? (() => {});
  const bytes = new Uint8Array(await readFile(path));
  const format = formatOf(path, bytes);
  if (format === 'json') {
    log(`xgboost native: parsed JSON model ${path}`);
    return xgboostFromDocument(parseXGBoostJson(new TextDecoder().decode(bytes)));
  }
  if (format === 'ubj') {
    log(`xgboost native: parsed UBJSON model ${path}`);
    return xgboostFromDocument(decodeUbjson(bytes));
  }
  const found = opts.pythonBin
    ? { bin: opts.pythonBin }
    : await findPython(['xgboost']).catch((err: Error) => {
        // Images without Python (modelfleet/xgboostserver) say how to serve the legacy format instead.
        if (process.env.MODELFLEET_LEGACY_MODEL_HINT) err.message += `\n${process.env.MODELFLEET_LEGACY_MODEL_HINT}`;
        throw err;
      });
  const bin = found.bin;
  log(`xgboost native: ${path} is a legacy binary model; converting to JSON once with ${bin} (xgboost)`);
  const { stdout } = await run(bin, [CONVERTER, path], { maxBuffer: 1024 * 1024 * 1024, timeout: 300_000 });
  return xgboostFromDocument(parseXGBoostJson(stdout));
}

/** XGBoost writes non-finite floats as bare NaN / Infinity, which JSON.parse rejects; numbers are coerced later. */
function parseXGBoostJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(quoteNonFinite(text));
  }
}

/** Quotes bare NaN / Infinity / -Infinity tokens outside string literals (the scikit_learn attribute holds some). */
function quoteNonFinite(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m) {
      out += `"${m[1]}"`;
      i += m[1].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}
