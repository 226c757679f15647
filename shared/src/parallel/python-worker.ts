/**
 * piscina worker that owns one Python process (through pythonia) with the model loaded in it. The model loads
 * while the module is imported, so piscina hands this worker no task before it is ready; the outcome is announced
 * on a BroadcastChannel so the runtime can report ready only when every worker has loaded. If the Python process
 * dies, the thread exits: piscina fails the task it held and starts a replacement, which loads the model again.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { WireError, WireResult, WireTask } from './wire.js';
import { packNumeric, unpackNumeric } from './wire.js';

export interface PythonWorkerData {
  channel: string;
  pythonBin: string;
  runnerPath: string;
  loaderPath: string;
  modelPath: string;
  options: unknown;
}

interface PyRunner {
  load(loader: string, model: string, options: string): Promise<string>;
  infer(header: string, blob: string, outputs: string, parameters: string): Promise<string>;
}

const data = workerData as PythonWorkerData;
// pythonia starts its Python process when its module is first loaded, reading PYTHON_BIN then.
process.env.PYTHON_BIN = data.pythonBin;
const require = createRequire(import.meta.url);
const pythonia = require('pythonia') as { python(file: string): Promise<PyRunner> };
const bridge = (globalThis as unknown as { __pythonBridge: { com: { proc: import('node:child_process').ChildProcess } } })
  .__pythonBridge;

bridge.com.proc.once('exit', (code, signal) => {
  process.stderr.write(`python worker ${threadId} (pid ${bridge.com.proc.pid}) exited (${signal ?? code}); replacing it\n`);
  process.exit(70);
});

const channel = new BroadcastChannel(data.channel);
let loadError: WireError | undefined;
let runner: PyRunner | undefined;
try {
  runner = await pythonia.python(data.runnerPath);
  const res = JSON.parse(await runner.load(data.loaderPath, data.modelPath, JSON.stringify(data.options ?? {})));
  if (res.error) loadError = { ...res.error, kind: 'load' };
  else channel.postMessage({ threadId, pid: bridge.com.proc.pid, info: res.ok });
} catch (err) {
  loadError = { kind: 'load', message: (err as Error).message };
}
if (loadError) channel.postMessage({ threadId, error: loadError });
channel.close();

export default async function infer(task: WireTask): Promise<WireResult> {
  if (loadError || !runner) return { error: loadError ?? { kind: 'load', message: 'model not loaded' } };
  const { header, bytes } = packNumeric(task.inputs);
  const reply = await runner.infer(
    JSON.stringify(header),
    bytes.length ? bytes.toString('base64') : '',
    JSON.stringify(task.outputs),
    JSON.stringify(task.parameters ?? {}),
  );
  const res = JSON.parse(reply);
  if (res.error) return { error: res.error };
  return { outputs: unpackNumeric(res.ok, Buffer.from(res.blob, 'base64')) };
}
