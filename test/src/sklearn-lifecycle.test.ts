// SKLEARN_SERVER as Seldon runs it: the env contract, start-up errors, readiness while loading, graceful stop,
// and a Python worker that dies.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { findPython } from '@modelfleet/shared/python/interpreter';
import { availableCpus } from '@modelfleet/shared/config/cpus';
import path from 'node:path';
import { assertClose, IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { postJson, REPO, runToExit, serveCli, spawnServer, waitReady } from './helpers/server.js';

const BIN = `${REPO}servers/sklearn/dist/main.js`;
const params = (list: Array<[string, string, string?]>) =>
  JSON.stringify(list.map(([name, value, type]) => ({ name, value, type: type ?? 'STRING' })));

describe('Seldon env contract (sklearnserver bin)', () => {
  test('method=predict via PREDICTIVE_UNIT_PARAMETERS, identity in requestPath and metric labels, metadata.yaml', async () => {
    const { paths, expected } = await sklearnModels();
    writeFileSync(path.join(paths.iris, 'metadata.yaml'), 'name: iris-from-yaml\nversions: [v7]\n');
    const server = await spawnServer([BIN], {
      PREDICTIVE_UNIT_PARAMETERS: params([['method', 'predict'], ['model_uri', paths.iris]]),
      PREDICTIVE_UNIT_ID: 'classifier',
      PREDICTIVE_UNIT_IMAGE: 'modelfleet/sklearnserver:0.1.0',
      PREDICTOR_ID: 'default',
      SELDON_DEPLOYMENT_ID: 'iris-sdep',
    });
    try {
      await waitReady(server);
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.names, []); // 1-D output: no names, as Seldon
      assert.deepEqual(r.json.data.ndarray, expected.iris.predict);
      assert.deepEqual(r.json.meta.requestPath, { classifier: 'modelfleet/sklearnserver:0.1.0' });
      // The V2 model name comes from PREDICTIVE_UNIT_ID.
      assert.equal((await fetch(`${server.url}/v2/models/classifier/ready`)).status, 200);
      const md = (await (await fetch(`${server.url}/api/v1.0/metadata`)).json()) as any;
      assert.equal(md.name, 'iris-from-yaml');
      assert.deepEqual(md.versions, ['v7']);
      assert.equal(md.platform, 'sklearn');
      const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
      assert.match(metrics, /modelfleet_requests_total\{[^}]*deployment_name="iris-sdep"[^}]*model_name="classifier"/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('method=decision_function on an SVC; MODEL_URI shorthand', async () => {
    const { paths, expected } = await sklearnModels();
    const server = await spawnServer([BIN], { MODEL_URI: paths.svc, PREDICTIVE_UNIT_PARAMETERS: params([['method', 'decision_function']]) });
    try {
      await waitReady(server);
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.names, ['t:0', 't:1', 't:2']);
      assertClose(r.json.data.ndarray, expected.svc.decision_function);
      // The SVC has no predict_proba (probability=False): asking for it is a clear 400.
      const v2 = await postJson(`${server.url}/v2/models/model/infer`, {
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: IRIS_ROWS[0] }],
        outputs: [{ name: 'predict_proba' }],
      });
      assert.equal(v2.status, 400);
      assert.match(v2.json.error, /no output "predict_proba"; available: predict, decision_function/);
    } finally {
      await server.stop();
    }
  });

  test('a regressor under the default method=predict_proba gets a clear 400, predict works', async () => {
    const { paths, expected } = await sklearnModels();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.diabetes]);
    try {
      await waitReady(server);
      const rows = expected.diabetes.rows as number[][];
      const bad = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: rows } });
      assert.equal(bad.status, 400);
      assert.match(bad.json.status.info, /no output "predict_proba"; available: predict/);
      const ok = await postJson(`${server.url}/v1/models/model:predict`, { instances: rows });
      assertClose(ok.json.predictions, expected.diabetes.predict);
    } finally {
      await server.stop();
    }
  });

  const startupErrors: Array<[string, Record<string, string>, RegExp]> = [
    ['unknown parameter', { PREDICTIVE_UNIT_PARAMETERS: params([['methd', 'predict'], ['model_uri', '/tmp']]) }, /unknown parameter "methd" for SKLEARN_SERVER; accepted: model_uri, method/],
    ['bad method', { PREDICTIVE_UNIT_PARAMETERS: params([['method', 'explain'], ['model_uri', '/tmp']]) }, /"method" for SKLEARN_SERVER must be one of predict_proba, predict, decision_function/],
    ['parameters not JSON', { PREDICTIVE_UNIT_PARAMETERS: '[{name:' }, /PREDICTIVE_UNIT_PARAMETERS is not valid JSON/],
    ['no model', {}, /needs a model: set MODEL_URI or the model_uri parameter/],
  ];
  for (const [name, env, message] of startupErrors) {
    test(`start-up error: ${name}`, async () => {
      const { code, output } = await runToExit([BIN], { PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0', MODEL_URI: '', ...env });
      assert.equal(code, 2, output);
      assert.match(output, message);
    });
  }

  test('a folder without a model file fails the load with the reason, exit 1', async () => {
    const { dir } = await sklearnModels();
    const { code, output } = await runToExit([BIN], { PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0', MODEL_URI: dir });
    assert.equal(code, 1, output);
    assert.match(output, /no model file in .*: expected model.joblib, model.pkl, model.pickle/);
  });

  test('a Python without sklearn is named with the install command', async () => {
    const { paths } = await sklearnModels();
    // A real interpreter that cannot see site-packages (python -S), so sklearn is missing from it.
    const bare = path.join(mkdtempSync(path.join(os.tmpdir(), 'bare-python-')), 'python3');
    writeFileSync(bare, `#!/bin/sh\nexec ${(await findPython()).bin} -S "$@"\n`);
    chmodSync(bare, 0o755);
    const { code, output } = await runToExit([BIN], {
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
      MODEL_URI: paths.iris,
      PYTHON_BIN: bare,
    });
    assert.match(output, /cannot import (sklearn|joblib|numpy)/);
    assert.equal(code, 1, output);
    assert.match(output, /apt-get install -y python3-sklearn/);
  });
});

describe('a model pickled by another scikit-learn version', () => {
  for (const engine of ['native', 'python']) {
    test(`engine=${engine}: both versions in the log and the metadata`, async () => {
      const { paths } = await sklearnModels();
      const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.other_version, '--param', `engine=${engine}`]);
      try {
        await waitReady(server);
        assert.match(server.logs(), /model was pickled with scikit-learn 9\.9\.9 and is served with \d+\.\d+/);
        const md = (await (await fetch(`${server.url}/v2/models/model`)).json()) as any;
        assert.equal(md.parameters.engine, engine);
        assert.equal(md.parameters.pickled_sklearn_version, '9.9.9');
        assert.match(md.parameters.sklearn_version, /^\d+\.\d+/);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('lifecycle', () => {
  test('readiness is false until the model has loaded; liveness is true throughout', async () => {
    const { paths } = await sklearnModels();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.slow_load]);
    try {
      // Loading takes 4 s: right after binding the model is not in yet.
      assert.equal(await (await fetch(`${server.url}/health/ping`)).text(), 'pong');
      assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200);
      assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 503);
      assert.equal((await fetch(`${server.url}/health/status`)).status, 503);
      const early = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
      assert.equal(early.status, 503);
      assert.match(early.json.status.info, /still loading/);
      const earlyV2 = await postJson(`${server.url}/v2/models/model/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: IRIS_ROWS[0] }] });
      assert.equal(earlyV2.status, 503);
      await waitReady(server);
      assert.equal((await fetch(`${server.url}/health/status`)).status, 200);
      const late = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
      assert.equal(late.status, 200);
    } finally {
      await server.stop();
    }
  });

  test('SIGTERM lets in-flight requests finish, then exits 0', async () => {
    const { paths, expected } = await sklearnModels();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.slow_predict, '--workers', '2']);
    await waitReady(server);
    // Each prediction takes 0.5 s in Python; stop while two are in flight.
    const inflight = [0, 1].map(() => postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[1]] } }));
    await new Promise((r) => setTimeout(r, 150));
    const code = server.stop('SIGTERM');
    const answers = await Promise.all(inflight);
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      assertClose(a.json.data.ndarray, [expected.iris.predict_proba[1]]);
    }
    assert.equal(await code, 0, server.logs());
    assert.match(server.logs(), /stopped/);
  });

  test('MODELFLEET_HTTP_PROCESSES=2: two servers share the port, metrics sum both, SIGTERM stops all', async () => {
    const { paths, expected } = await sklearnModels();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.iris], { MODELFLEET_HTTP_PROCESSES: '2' });
    await waitReady(server);
    // Readiness came from one process; wait until the other answers too (each loads its own copy).
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (server.logs().match(/ready in/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 100));
    const answers = await Promise.all(Array.from({ length: 40 }, () => postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[2]] } })));
    for (const a of answers) assertClose(a.json.data.ndarray, [expected.iris.predict_proba[2]]);
    const metrics = await (await fetch(`${server.metricsUrl}/prometheus`)).text();
    const m = /modelfleet_requests_total\{protocol="seldon",endpoint="predictions",code="200"[^}]*\} (\d+)/.exec(metrics);
    assert.equal(Number(m?.[1]), 40, metrics.slice(0, 500));
    assert.equal(await server.stop('SIGTERM'), 0, server.logs());
    assert.equal((server.logs().match(/\] stopped/g) ?? []).length, 2);
  });

  test('by default one server process per CPU the container may use (cgroup-aware), each with its share of Python workers', async () => {
    const { paths } = await sklearnModels();
    // Unset (empty) MODELFLEET_HTTP_PROCESSES and MODELFLEET_WORKERS: the defaults.
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.iris, '--param', 'engine=python'], { MODELFLEET_HTTP_PROCESSES: '', MODELFLEET_WORKERS: '' });
    try {
      await waitReady(server);
      const cpus = availableCpus();
      if (cpus > 1) {
        assert.match(server.logs(), new RegExp(`${cpus} server processes share the HTTP and gRPC ports`));
        const deadline = Date.now() + 90_000;
        while (Date.now() < deadline && (server.logs().match(/ready in/g) ?? []).length < cpus) await new Promise((r) => setTimeout(r, 100));
        assert.equal((server.logs().match(/ready in/g) ?? []).length, cpus, server.logs());
      } else {
        assert.doesNotMatch(server.logs(), /server processes share/);
      }
      // Python workers per process: the CPUs divided among the processes (one each here), not one per CPU each.
      const engines = server.logs().match(/python engine: .*?, (\d+) process\(es\)/g) ?? [];
      assert.equal(engines.length, cpus, server.logs());
      for (const line of engines) assert.match(line, / 1 process\(es\)/);
    } finally {
      assert.equal(await server.stop('SIGTERM'), 0, server.logs());
    }
  });

  test('a Python worker that dies is replaced: its request gets a 503, later ones succeed', async () => {
    const { paths, expected } = await sklearnModels();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', paths.crash, '--workers', '1']);
    try {
      await waitReady(server);
      const killer = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[666, 1, 1, 1]] } });
      assert.equal(killer.status, 503, killer.text);
      assert.match(killer.json.status.info, /Python worker handling this request died .*being replaced/);
      // With its only worker gone, the next request waits for the replacement to load the model.
      const after = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
      assert.equal(after.status, 200, after.text);
      assertClose(after.json.data.ndarray, [expected.iris.predict_proba[0]]);
      assert.match(server.logs(), /replacement python process loaded the model/);
    } finally {
      await server.stop();
    }
  });
});
