/**
 * piscina worker for the ONNX engine, shared by every ONNX model of the server (parallel/shared-threads.ts): a
 * session per model, built the first time this thread runs it from the model bytes its task carried (shared memory),
 * so large requests run here while the event loop keeps parsing and answering others (session.run holds the thread
 * that calls it).
 */
import { BroadcastChannel } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ONNX_CHANNEL, type ThreadsNotice } from '../parallel/shared-threads.js';
import type { OrtTensorLike } from './tensors.js';

export interface OnnxTask {
  /** The model's id in the server, its bytes (a view of a SharedArrayBuffer) and session options. */
  id: string;
  model: Uint8Array;
  options: ort.InferenceSession.SessionOptions;
  feeds: Record<string, OrtTensorLike>;
  fetches: string[];
}

export type OnnxTaskResult = { ok: Record<string, OrtTensorLike> } | { runError: string };

const sessions = new Map<string, Promise<ort.InferenceSession>>();
const channel = new BroadcastChannel(ONNX_CHANNEL);
channel.unref();
channel.onmessage = (e) => {
  const id = (e as { data: ThreadsNotice }).data.unload;
  const session = sessions.get(id);
  sessions.delete(id);
  void session?.then((s) => s.release()).catch(() => {});
};

function sessionFor(task: OnnxTask): Promise<ort.InferenceSession> {
  let session = sessions.get(task.id);
  if (!session) {
    // A private copy: onnxruntime reads the bytes while it builds the session, and owns what it keeps.
    session = ort.InferenceSession.create(new Uint8Array(task.model), task.options);
    session.catch(() => sessions.delete(task.id));
    sessions.set(task.id, session);
  }
  return session;
}

export default async function run(task: OnnxTask): Promise<OnnxTaskResult> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(task.feeds)) feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  let results: ort.InferenceSession.ReturnType;
  try {
    const session = await sessionFor(task);
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
