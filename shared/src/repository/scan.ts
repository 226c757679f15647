/**
 * Finds the models in a repository folder, as MLServer does: every folder (at any depth) holding a
 * model-settings.json is a model; in addition a direct sub-folder without one but with a model file is a model
 * named after the folder, its server chosen by the file (as KServe's and Triton's repositories are laid out).
 * A folder whose settings cannot be read is still listed, with the reason, so the index can report it.
 */
import { readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { readModelSettings, type ModelSpec } from './model-settings.js';

export interface ScannedModel {
  /** The model, or undefined when its settings are broken (then `error` says why). */
  spec?: ModelSpec;
  name: string;
  version?: string;
  error?: string;
}

const SKIP = new Set(['node_modules', '.git', '.envs', '.metrics']);

/** The server for a folder holding only model files; undefined when nothing in it looks like a model. */
export function implementationOfFolder(dir: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return undefined;
  }
  if (files.includes('MLmodel')) return 'MLFLOW_SERVER';
  if (files.some((f) => /\.(joblib|pkl|pickle)$/i.test(f))) return 'SKLEARN_SERVER';
  if (files.some((f) => /\.(ubj|bst)$/i.test(f) || f === 'model.json' || f === 'xgboost.json' || f === 'xgboost.model')) return 'XGBOOST_SERVER';
  if (files.some((f) => /\.onnx$/i.test(f)) || files.includes('saved_model.pb')) return 'TENSORFLOW_SERVER';
  return undefined;
}

export function scanRepository(root: string): ScannedModel[] {
  const out: ScannedModel[] = [];
  const visit = (dir: string, depth: number) => {
    const settings = path.join(dir, 'model-settings.json');
    if (existsSync(settings)) {
      try {
        const spec = readModelSettings(settings);
        out.push({ spec, name: spec.name, version: spec.version });
      } catch (err) {
        out.push({ name: path.basename(dir), error: (err as Error).message });
      }
    } else if (depth === 1) {
      const implementation = implementationOfFolder(dir);
      if (implementation) {
        const name = path.basename(dir);
        out.push({ name, spec: { name, implementation, uri: dir, parameters: [], maxBatchSize: 0, maxBatchTimeMs: 0, source: dir } });
        return;
      }
    }
    let entries: string[] = [];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const e of entries) {
      if (SKIP.has(e) || e.startsWith('.')) continue;
      const sub = path.join(dir, e);
      try {
        if (statSync(sub).isDirectory()) visit(sub, depth + 1);
      } catch {
        // a dangling link: nothing to serve there
      }
    }
  };
  visit(root, 0);
  return out;
}
