// Issue 16 item 5: NVIDIA's perf_analyzer, a real Triton client written by others, built from its public source
// (bench/vendor/perf_analyzer, bench/scripts/build-perf-analyzer.sh; cached after the first build), drives
// SKLEARN_SERVER (native iris) and XGBOOST_SERVER over HTTP and gRPC. It must find everything it needs in our
// model configuration: no --shape, and -b 2 accepted because max_batch_size > 0. Its own profile export records
// what each request sent and got back; the answers are compared with what scikit-learn and XGBoost compute.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { REPO, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const run = promisify(execFile);
const BUILD_SCRIPT = path.join(REPO, 'bench/scripts/build-perf-analyzer.sh');
const work = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-perf-analyzer-'));

const TRAIN_XGB = `
import json, os, sys
import numpy as np, xgboost as xgb
from sklearn.datasets import load_iris
out, rows = sys.argv[1], np.array(json.loads(sys.argv[2]), dtype=np.float32)
X, y = load_iris(return_X_y=True)
m = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
m.save_model(os.path.join(out, 'model.json'))
print(json.dumps({'predict_proba': m.predict_proba(rows).tolist()}))
`;

interface Target {
  server: ServerProcess;
  /** predict_proba per IRIS_ROWS row, as the framework computes it. */
  expected: number[][];
  /** Relative tolerance: float32 models answer in float32. */
  rel: number;
}

let perfAnalyzer = '';
const targets: Target[] = [];

/** Rows as perf_analyzer's --input-data JSON wants them: one step per row, every number written as a double. */
function inputData(rows: number[][], name: string): string {
  const file = path.join(work, `${name}-${rows[0].length}.json`);
  const num = (v: number) => (Number.isInteger(v) ? v.toFixed(1) : String(v));
  writeFileSync(file, `{"data":[${rows.map((r) => `{"${name}":[${r.map(num).join(',')}]}`).join(',')}]}`);
  return file;
}

interface PaRun {
  code: number;
  output: string;
}

async function perfAnalyzerRun(args: string[]): Promise<PaRun> {
  try {
    const { stdout, stderr } = await run(perfAnalyzer, args, { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; signal?: string; stdout?: string; stderr?: string };
    if (err.signal) throw new Error(`perf_analyzer killed by ${err.signal}:\n${err.stdout}${err.stderr}`);
    return { code: err.code ?? -1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

before(
  async () => {
    // The first build takes minutes of C++ compilation; later runs reuse the cached binary.
    const built = await run(BUILD_SCRIPT, [], { timeout: 45 * 60_000, maxBuffer: 16 * 1024 * 1024 }).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`building perf_analyzer failed: ${e.stderr ?? e.message}`);
    });
    perfAnalyzer = built.stdout.trim().split('\n').pop()!;
    const sk = await sklearnModels();
    const xgbDir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-pa-xgb-'));
    const xgb = await pythonJson<{ predict_proba: number[][] }>(TRAIN_XGB, ['xgboost', 'sklearn'], [xgbDir, JSON.stringify(IRIS_ROWS)]);
    const sklearn = await serveCli(['SKLEARN_SERVER', '--model-uri', sk.paths.iris, '--model-name', 'iris', '--param', 'engine=native']);
    targets.push({ server: sklearn, expected: sk.expected.iris.predict_proba as number[][], rel: 1e-9 });
    const xgboost = await serveCli(['XGBOOST_SERVER', '--model-uri', xgbDir, '--model-name', 'iris', '--param', 'engine=native']);
    targets.push({ server: xgboost, expected: xgb.predict_proba, rel: 1e-5 });
    for (const t of targets) await waitReady(t.server);
  },
  { timeout: 50 * 60_000 },
);

after(async () => {
  for (const t of targets) await t.server.stop();
});

interface Profile {
  experiments: {
    experiment: { mode: string; value: number };
    requests: { request_inputs: Record<string, number[]>; response_outputs: Record<string, number[]>[] }[];
  }[];
}

describe('perf_analyzer drives our servers with nothing but their model configuration', () => {
  for (const transport of ['http', 'grpc'] as const) {
    for (const index of [0, 1]) {
      test(`${index === 0 ? 'SKLEARN_SERVER' : 'XGBOOST_SERVER'} over ${transport}: concurrency 1:2, -b 2, no --shape`, { timeout: 600_000 }, async () => {
        const t = targets[index];
        const url = transport === 'http' ? t.server.url.replace('http://', '') : t.server.grpcTarget!;
        const config = (await (await fetch(`${t.server.url}/v2/models/iris/config`)).json()) as {
          max_batch_size: number;
          input: { name: string; dims: number[] }[];
          output: { name: string; dims: number[] }[];
        };
        assert.ok(config.max_batch_size >= 2, `max_batch_size ${config.max_batch_size}`);
        const csv = path.join(work, `${index}-${transport}.csv`);
        const profile = path.join(work, `${index}-${transport}.json`);
        const r = await perfAnalyzerRun([
          '-m', 'iris', '-u', url, '-i', transport,
          '--concurrency-range', '1:2', '--measurement-interval', '1000', '-b', '2',
          // This machine is shared and loaded: accept any spread between windows rather than fail to "stabilise".
          '--stability-percentage', '1000',
          '--input-data', inputData(IRIS_ROWS, config.input[0].name),
          '-f', csv, '--profile-export-file', profile,
        ]);
        assert.equal(r.code, 0, r.output);
        assert.match(r.output, /Batch size: 2/);

        // Its CSV: one line per concurrency (sorted by throughput), positive throughput.
        const lines = readFileSync(csv, 'utf8').trim().split('\n');
        assert.match(lines[0], /^Concurrency,Inferences\/Second,/);
        const rows = lines.slice(1).map((l) => l.split(',').map(Number)).sort((a, b) => a[0] - b[0]);
        assert.deepEqual(rows.map((c) => c[0]), [1, 2]);
        for (const c of rows) assert.ok(c[1] > 0, `throughput at concurrency ${c[0]}: ${c[1]}`);

        // Its profile export: every request carried 2 rows (the batch), each answered as the framework answers it.
        const exported = JSON.parse(readFileSync(profile, 'utf8')) as Profile;
        assert.deepEqual(exported.experiments.map((e) => e.experiment.value).sort(), [1, 2]);
        const width = (name: string) => config.output.find((o) => o.name === name)!.dims.reduce((a, b) => a * b, 1);
        let checked = 0;
        for (const e of exported.experiments) {
          assert.ok(e.requests.length > 0);
          for (const req of e.requests) {
            const sent = req.request_inputs[config.input[0].name];
            assert.equal(sent.length, config.input[0].dims[0], 'one batch element of the config dims');
            const row = IRIS_ROWS.findIndex((x) => x.every((v, i) => Math.abs(v - sent[i]) <= 1e-6 * Math.abs(v)));
            assert.ok(row >= 0, `sent a row of the input data: ${sent}`);
            const out = req.response_outputs[0];
            for (const [name, values] of Object.entries(out)) assert.equal(values.length, 2 * width(name), `${name}: 2 rows of [${width(name)}]`);
            const proba = out.predict_proba;
            assert.ok(proba, `predict_proba answered: ${Object.keys(out)}`);
            // The export records the batch's first element; perf_analyzer fills the second from the next step of the
            // input data, so that one must be the answer to some row of it.
            const close = (got: number[], want: number[]) => want.every((w, k) => Math.abs(got[k] - w) <= t.rel * Math.max(Math.abs(w), 1e-6));
            const k = t.expected[row].length;
            assert.ok(close(proba.slice(0, k), t.expected[row]), `row ${row}: ${proba.slice(0, k)} vs ${t.expected[row]}`);
            assert.ok(t.expected.some((want) => close(proba.slice(k, 2 * k), want)), `second row: ${proba.slice(k, 2 * k)}`);
            checked++;
          }
        }
        assert.ok(checked > 0);
      });
    }
  }
});

test('gRPC streaming (ModelStreamInfer), async: perf_analyzer completes', { timeout: 600_000 }, async () => {
  const s = targets[0].server;
  const r = await perfAnalyzerRun(['-m', 'iris', '-u', s.grpcTarget!, '-i', 'grpc', '--streaming', '-b', '3', '--concurrency-range', '2', '--measurement-interval', '1000', '--stability-percentage', '1000']);
  assert.equal(r.code, 0, r.output);
  const m = /Concurrency: 2, throughput: ([\d.]+) infer\/sec/.exec(r.output);
  assert.ok(m && Number(m[1]) > 0, r.output);
});

describe('perf_analyzer stops cleanly where it must', () => {
  for (const transport of ['http', 'grpc'] as const) {
    test(`an unknown model over ${transport}: our error reaches the user, exit non-zero`, { timeout: 120_000 }, async () => {
      const s = targets[0].server;
      const r = await perfAnalyzerRun(['-m', 'nosuch', '-u', transport === 'http' ? s.url.replace('http://', '') : s.grpcTarget!, '-i', transport]);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, /failed to get model metadata: .*nosuch.*not found/i);
    });
  }

  // We do not implement Triton's shared-memory extensions (and do not advertise them): the register call fails with
  // a message naming it, on both transports, instead of inferring from memory we never read.
  for (const transport of ['http', 'grpc'] as const) {
    test(`--shared-memory system over ${transport}: refused with the missing route named`, { timeout: 120_000 }, async () => {
      const s = targets[0].server;
      const r = await perfAnalyzerRun([
        '-m', 'iris', '-u', transport === 'http' ? s.url.replace('http://', '') : s.grpcTarget!, '-i', transport, '--shared-memory', 'system',
        '--concurrency-range', '1', '--measurement-interval', '500',
      ]);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, transport === 'http' ? /no route for POST \/v2\/systemsharedmemory\/region\/.+\/register/ : /does not implement the method \/inference\.GRPCInferenceService\/SystemSharedMemoryRegister/);
    });
  }

  test('rows wider than the config dims: perf_analyzer refuses them itself (it read dims [4] from us)', { timeout: 120_000 }, async () => {
    const s = targets[0].server;
    const wide = IRIS_ROWS.map((r) => [...r, 0.5]);
    const r = await perfAnalyzerRun([
      '-m', 'iris', '-u', s.url.replace('http://', ''), '--input-data', inputData(wide, 'input-0'), '--shape', 'input-0:5',
      '--concurrency-range', '1', '--measurement-interval', '500',
    ]);
    assert.notEqual(r.code, 0, r.output);
    // 4 FP64 values per batch element, from the config's dims and data_type.
    assert.match(r.output, /mismatch in the data provided for input-0\. Expected: 32 bytes, Got: 40 bytes/);
  });
});
