// Issue 16 item 12: nothing lost when a Python worker dies. kill -9 of the Python engine's processes under
// concurrent clients must not fail a single prediction (a prepackaged predict is idempotent: it goes once more to
// a live process); a model that fails to load reports its error once, without a second worker's BrokenPipeError.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { CLI, postJson, runToExit, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const pythonChildren = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /python/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there are none
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let models: TrainedModels;
before(async () => {
  models = await sklearnModels();
});

describe('kill -9 of Python workers under 8 concurrent clients', () => {
  let server: ServerProcess;
  before(async () => {
    server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '2', '--param', 'engine=python']);
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('no request fails: the one a dying worker held runs again on a live one', async () => {
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const client = async () => {
      while (!stop) {
        const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[ok % 4]] } });
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const pid = server.proc.pid!;
    let kills = 0;
    for (let i = 0; i < 4; i++) {
      // wait until both workers are up (the replacement of the last kill has loaded) and busy with traffic
      for (let t = 0; t < 300 && pythonChildren(pid).length < 2; t++) await sleep(100);
      await sleep(300);
      const victims = pythonChildren(pid);
      if (!victims.length) continue;
      process.kill(victims[i % victims.length], 'SIGKILL');
      kills++;
    }
    await sleep(1500);
    stop = true;
    await Promise.all(clients);
    assert.ok(kills >= 3, `killed ${kills} workers`);
    assert.match(server.logs(), /exited \(.*\); starting a replacement/);
    assert.deepEqual(failures, [], `${failures.length} of ${failures.length + ok} requests failed`);
    assert.ok(ok > 8 * kills, `only ${ok} answers`);
  });

  test('a request that kills Python every time is answered 503 after its one retry, and the server carries on', async () => {
    const crash = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.crash, '--model-name', 'crash', '--workers', '2', '--param', 'engine=python']);
    try {
      await waitReady(crash);
      const r = await postJson(`${crash.url}/api/v1.0/predictions`, { data: { ndarray: [[666, 1, 1, 1]] } });
      assert.equal(r.status, 503, r.text);
      assert.match(r.text, /died/);
      await sleep(1000);
      const deaths = (crash.logs().match(/exited \(/g) ?? []).length;
      assert.equal(deaths, 2, crash.logs()); // once, then once more on the retry: never a third
      const after = await postJson(`${crash.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
      assert.equal(after.status, 200, after.text);
    } finally {
      await crash.stop();
    }
  });
});

test('a model that fails to load prints its error once, with no BrokenPipeError from another worker', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-badmodel-'));
  writeFileSync(path.join(dir, 'model.joblib'), 'not a pickle');
  const { code, output } = await runToExit([CLI, 'serve', 'SKLEARN_SERVER', '--model-uri', dir, '--workers', '2', '--param', 'engine=python'], {
    MODELFLEET_HOST: '127.0.0.1',
    PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
    PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0',
    PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
  });
  assert.equal(code, 1, output);
  assert.match(output, /failed to load/);
  assert.doesNotMatch(output, /BrokenPipeError/);
  assert.equal((output.match(/Traceback/g) ?? []).length <= 1, true, output);
});
