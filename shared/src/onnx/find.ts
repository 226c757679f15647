import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/parameters.js';

/** The ONNX file a model path holds: the path itself, else model.onnx, else the one *.onnx; undefined when none. */
export function onnxFileIn(modelPath: string): string | undefined {
  if (statSync(modelPath).isFile()) return modelPath.endsWith('.onnx') ? modelPath : undefined;
  const files = readdirSync(modelPath);
  if (files.includes('model.onnx')) return path.join(modelPath, 'model.onnx');
  const candidates = files.filter((f) => f.endsWith('.onnx'));
  if (candidates.length > 1) {
    throw new ConfigError(`more than one ONNX file in ${modelPath} (${candidates.join(', ')}): keep one, or name it model.onnx`);
  }
  return candidates.length ? path.join(modelPath, candidates[0]) : undefined;
}

export function findOnnxFile(modelPath: string): string {
  const file = onnxFileIn(modelPath);
  if (!file) throw new ConfigError(`no ONNX model in ${modelPath}: expected model.onnx or one *.onnx file`);
  return file;
}
