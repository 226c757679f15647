/**
 * piscina worker for the ONNX engine: its own onnxruntime session over the model bytes it was handed, so large
 * requests run here while the event loop keeps parsing and answering others (session.run holds the thread that
 * calls it).
 */
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { OrtTensorLike } from './tensors.js';

export interface OnnxTask {
  feeds: Record<string, OrtTensorLike>;
  fetches: string[];
}

export type OnnxTaskResult = { ok: Record<string, OrtTensorLike> } | { runError: string };

const { model, options } = workerData as { model: Uint8Array; options: ort.InferenceSession.SessionOptions };
const session = await ort.InferenceSession.create(model, options);

export default async function run(task: OnnxTask): Promise<OnnxTaskResult> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(task.feeds)) feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  let results: ort.InferenceSession.ReturnType;
  try {
    results = await session.run(feeds, task.fetches);
  } catch (err) {
    return { runError: (err as Error).message ?? String(err) };
  }
  const out: Record<string, OrtTensorLike> = {};
  const transfer: ArrayBuffer[] = [];
  for (const name of task.fetches) {
    const t = results[name];
    out[name] = { type: t.type, data: t.data as OrtTensorLike['data'], dims: t.dims };
    if (ArrayBuffer.isView(t.data) && t.data.buffer instanceof ArrayBuffer && !transfer.includes(t.data.buffer)) transfer.push(t.data.buffer);
  }
  // Numeric outputs move to the main thread without a copy.
  return move({ [transferableSymbol]: transfer, [valueSymbol]: { ok: out } } as never) as unknown as OnnxTaskResult;
}
