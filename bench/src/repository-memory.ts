/**
 * node bench/dist/repository-memory.js: what one more model costs in a model repository server. For each engine,
 * `modelfleet start` on a repository of 1 and of 5 copies of the same model (model-settings.json files pointing at
 * one bench model), each copy answered once, then the PSS of the whole process tree (Python workers included):
 * (PSS(5) - PSS(1)) / 4 is the cost of one more model. MODELFLEET_WORKERS=2 (one per core here). Arguments, if
 * any, name the engines to measure (e.g. `sklearn-python`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, MLP_WIDTH, trainModels } from './models.js';
import { pssMiB, startProcess } from './processes.js';

interface Kind {
  name: string;
  settings: Record<string, unknown>;
  request: unknown;
}

async function measure(kind: Kind, copies: number): Promise<number> {
  const repo = mkdtempSync(path.join(os.tmpdir(), `repo-mem-${kind.name}-`));
  for (let i = 0; i < copies; i++) {
    mkdirSync(path.join(repo, `m${i}`));
    writeFileSync(path.join(repo, `m${i}`, 'model-settings.json'), JSON.stringify({ ...kind.settings, name: `m${i}` }));
  }
  const proc = await startProcess([CLI, 'start', repo], { MODELFLEET_WORKERS: '2' });
  try {
    for (;;) {
      const r = await fetch(`${proc.url}/v2/health/ready`).catch(() => undefined);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    for (let i = 0; i < copies; i++) {
      const r = await fetch(`${proc.url}/v2/models/m${i}/infer`, { method: 'POST', body: JSON.stringify(kind.request), headers: { 'content-type': 'application/json' } });
      if (r.status !== 200) throw new Error(`${kind.name} m${i}: ${r.status} ${await r.text()}`);
    }
    await new Promise((res) => setTimeout(res, 1000));
    return pssMiB(proc.child.pid!);
  } finally {
    await proc.stop();
  }
}

async function main(): Promise<void> {
  const models = await trainModels();
  const iris = { inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP64', data: [5.1, 3.5, 1.4, 0.2] }] };
  const kinds: Kind[] = [
    { name: 'sklearn-native', settings: { implementation: 'mlserver_sklearn.SKLearnModel', parameters: { uri: models.iris, extra: { engine: 'native' } } }, request: iris },
    { name: 'sklearn-python', settings: { implementation: 'mlserver_sklearn.SKLearnModel', parameters: { uri: models.iris, extra: { engine: 'python' } } }, request: iris },
    { name: 'xgboost-native', settings: { implementation: 'mlserver_xgboost.XGBoostModel', parameters: { uri: models.xgb } }, request: { inputs: [{ name: 'x', shape: [1, 20], datatype: 'FP64', data: new Array(20).fill(0.5) }] } },
    { name: 'onnx-mlp', settings: { implementation: 'TENSORFLOW_SERVER', parameters: { uri: models.mlp } }, request: { inputs: [{ name: 'x', shape: [1, MLP_WIDTH], datatype: 'FP32', data: new Array(MLP_WIDTH).fill(0.1) }] } },
  ];
  const lines = ['| engine | PSS, 1 model | PSS, 5 models | one more model |', '|---|---:|---:|---:|'];
  const only = process.argv.slice(2);
  for (const kind of kinds.filter((k) => !only.length || only.includes(k.name))) {
    const one = await measure(kind, 1);
    const five = await measure(kind, 5);
    lines.push(`| ${kind.name} | ${one.toFixed(0)} MiB | ${five.toFixed(0)} MiB | ${((five - one) / 4).toFixed(1)} MiB |`);
    process.stderr.write(`${lines[lines.length - 1]}\n`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`repository-memory failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
