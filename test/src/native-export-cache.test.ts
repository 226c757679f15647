// The native export of a sklearn pickle is cached: a restart (or a folder prepared by `modelfleet export`) serves
// with the native engine without starting Python, and an export made by another scikit-learn is redone. Python is
// counted through a PYTHON_BIN wrapper that logs each start and then runs Debian's python3; answers are compared
// with what scikit-learn computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPython } from '@modelfleet/shared/python/interpreter';
import { assertClose, IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { CLI, postJson, runToExit, serveCli, waitReady } from './helpers/server.js';

async function setup() {
  const { paths, expected } = await sklearnModels();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-export-cache-'));
  const modelDir = path.join(tmp, 'model');
  const cacheDir = path.join(tmp, 'cache');
  const starts = path.join(tmp, 'python-starts.log');
  const real = (await findPython(['sklearn', 'numpy'])).bin;
  const wrapper = path.join(tmp, 'python3');
  writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${JSON.stringify(starts)}\nexec ${JSON.stringify(real)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  (await import('node:fs')).mkdirSync(modelDir);
  copyFileSync(path.join(paths.iris, 'model.joblib'), path.join(modelDir, 'model.joblib'));
  const pythonStarts = () => (existsSync(starts) ? readFileSync(starts, 'utf8').trim().split('\n').length : 0);
  return { expected, modelDir, cacheDir, wrapper, pythonStarts };
}

/** Python processes under a server process (none should stay when the native engine serves). */
function pythonDescendants(pid: number): string[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const found: string[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      queue.push(c);
      try {
        const cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (/python/.test(cmd)) found.push(cmd);
      } catch {
        // exited meanwhile
      }
    }
  }
  return found;
}

async function serveOnce(s: Awaited<ReturnType<typeof setup>>) {
  const server = await serveCli(['SKLEARN_SERVER', '--model-uri', s.modelDir, '--model-name', 'iris', '--param', 'engine=native'], {
    PYTHON_BIN: s.wrapper,
    MODELFLEET_CACHE_DIR: s.cacheDir,
  });
  try {
    await waitReady(server);
    const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, s.expected.iris.predict_proba);
    const md = (await (await fetch(`${server.url}/v2/models/iris`)).json()) as { parameters: Record<string, unknown> };
    assert.equal(md.parameters.engine, 'native');
    assert.deepEqual(pythonDescendants(server.proc.pid!), [], 'no Python process stays alive under the native engine');
    return server.logs();
  } finally {
    assert.equal(await server.stop(), 0, server.logs());
  }
}

test('a restart finds the export in the cache and starts no Python; the parity check still runs', async () => {
  const s = await setup();
  const first = await serveOnce(s);
  assert.doesNotMatch(first, /Python not started/);
  const afterFirst = s.pythonStarts();
  assert.ok(afterFirst >= 1, 'the first start exported through Python');
  assert.equal(readdirSync(path.join(s.cacheDir, 'sklearn')).length, 1);
  const second = await serveOnce(s);
  assert.match(second, /native export of model\.joblib found in .*: Python not started/);
  assert.match(second, /native engine matches scikit-learn on \d+ probe rows/);
  assert.equal(s.pythonStarts(), afterFirst, 'the restart started no Python');
});

test('an export made by another scikit-learn (or of another file) is not used: the export runs again', async () => {
  const s = await setup();
  await serveOnce(s);
  const [entryName] = readdirSync(path.join(s.cacheDir, 'sklearn'));
  const entryFile = path.join(s.cacheDir, 'sklearn', entryName);
  const entry = JSON.parse(readFileSync(entryFile, 'utf8'));
  entry.sklearn.version = '0.0.1'; // as if scikit-learn had been upgraded since
  writeFileSync(entryFile, JSON.stringify(entry));
  const before = s.pythonStarts();
  const logs = await serveOnce(s);
  assert.doesNotMatch(logs, /Python not started/);
  assert.ok(s.pythonStarts() > before);
  // The pickle changes (another model in the same place): its hash keys a new entry.
  const { paths } = await sklearnModels();
  copyFileSync(path.join(paths.svc, 'model.joblib'), path.join(s.modelDir, 'model.joblib'));
  const again = s.pythonStarts();
  const server = await serveCli(['SKLEARN_SERVER', '--model-uri', s.modelDir, '--param', 'engine=auto'], { PYTHON_BIN: s.wrapper, MODELFLEET_CACHE_DIR: s.cacheDir });
  try {
    await waitReady(server);
    assert.ok(s.pythonStarts() > again);
    assert.equal(readdirSync(path.join(s.cacheDir, 'sklearn')).length, 2, 'a second entry, for the new file');
  } finally {
    assert.equal(await server.stop(), 0, server.logs());
  }
});

test('modelfleet export MODEL_DIR writes the export beside the model; a server with an empty cache uses it', async () => {
  const s = await setup();
  const out = await runToExit([CLI, 'export', s.modelDir], { PYTHON_BIN: s.wrapper });
  assert.equal(out.code, 0, out.output);
  assert.match(out.output, /wrote .*model\.joblib\.modelfleet-native\.json/);
  const before = s.pythonStarts();
  const logs = await serveOnce(s);
  assert.match(logs, /found beside the model: Python not started/);
  assert.equal(s.pythonStarts(), before);
  const bad = await runToExit([CLI, 'export', path.join(s.modelDir, 'nope')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.output, /nope/);
});
