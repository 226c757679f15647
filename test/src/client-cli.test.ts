// `modelfleet predict` and `modelfleet test --contract` as users run them: the real bin, a real iris server over
// REST and gRPC, answers compared with scikit-learn's, stdout/stderr and exit codes; and the contract's random
// data checked field by field, its distributions against scipy's KS test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkTargets, generateBatch, parseContract, rng } from '@modelfleet/client/cli/contract';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

let models: TrainedModels;
let server: ServerProcess;
const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-cli-'));

before(async () => {
  models = await sklearnModels();
  server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris']);
  await waitReady(server);
});
after(async () => {
  assert.equal(await server.stop(), 0, server.logs());
});

function modelfleet(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`modelfleet ${args.join(' ')} did not exit in 120 s:\n${stdout}\n${stderr}`));
    }, 120_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(stdin ?? '');
  });
}

const file = (name: string, value: unknown) => {
  const p = path.join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
};

const IRIS_CONTRACT = {
  features: [
    { name: 'sepal_length', dtype: 'FLOAT', ftype: 'continuous', range: [4, 8] },
    { name: 'sepal_width', dtype: 'FLOAT', ftype: 'continuous', range: [2, 5] },
    { name: 'petal_length', dtype: 'FLOAT', ftype: 'continuous', range: [1, 7] },
    { name: 'petal_width', dtype: 'FLOAT', ftype: 'continuous', range: [0, 3] },
  ],
  targets: [{ name: 'proba', dtype: 'FLOAT', ftype: 'continuous', range: [0, 1], repeat: 3 }],
};

describe('modelfleet predict', () => {
  test('Seldon over REST from --data: prints the answer, exit 0', async () => {
    const r = await modelfleet(['predict', '--url', server.url, '--data', JSON.stringify(IRIS_ROWS), '--tags', '{"who":"cli"}']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assertClose(out.data.ndarray, models.expected.iris.predict_proba);
    assert.deepEqual(out.meta.tags, { who: 'cli' });
  });

  test('Seldon over gRPC as tftensor, V2 over gRPC and REST binary, KServe from stdin and a file', async () => {
    const tf = await modelfleet(['predict', '--grpc', server.grpcTarget!, '--transport', 'grpc', '--payload', 'tftensor', '--data', JSON.stringify(IRIS_ROWS)]);
    assert.equal(tf.code, 0, tf.stderr);
    assert.equal(JSON.parse(tf.stdout).data.tftensor.dtype, 'DT_DOUBLE');
    for (const args of [['--grpc', server.grpcTarget!, '--transport', 'grpc'], ['--url', server.url, '--binary']]) {
      const v2 = await modelfleet(['predict', ...args, '--protocol', 'v2', '--model', 'iris', '--outputs', 'predict_proba', '--datatype', 'FP64'], JSON.stringify(IRIS_ROWS));
      assert.equal(v2.code, 0, v2.stderr);
      const out = JSON.parse(v2.stdout);
      assert.deepEqual(out.outputs[0].shape, [4, 3]);
      assertClose(out.outputs[0].data, (models.expected.iris.predict_proba as number[][]).flat());
    }
    const ks = await modelfleet(['predict', '--url', server.url, '--protocol', 'kserve', '--model', 'iris', '--file', file('v1.json', { instances: IRIS_ROWS })]);
    assert.equal(ks.code, 0, ks.stderr);
    assert.deepEqual(JSON.parse(ks.stdout), { predictions: models.expected.iris.predict });
    const md = await modelfleet(['predict', '--url', server.url, '--protocol', 'v2', '--model', 'iris', '--metadata']);
    assert.equal(JSON.parse(md.stdout).platform, 'sklearn');
  });

  test("a server error exits 1 with the server's message and body on stderr; bad usage exits 2", async () => {
    const bad = await modelfleet(['predict', '--url', server.url, '--data', '[[1,2,3]]']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /answered 400: MICROSERVICE_BAD_DATA: expected 4 features per row, got 3/);
    assert.match(bad.stderr, /"reason":"MICROSERVICE_BAD_DATA"/);
    const grpcBad = await modelfleet(['predict', '--grpc', server.grpcTarget!, '--protocol', 'v2', '--model', 'nope', '--data', '[[1]]']);
    assert.equal(grpcBad.code, 1);
    assert.match(grpcBad.stderr, /NOT_FOUND: Model nope not found/);
    for (const args of [['--data', '[[1]]'], ['--url', server.url, '--data', '[[1'], ['--url', server.url, '--protocol', 'kserve', '--transport', 'grpc', '--grpc', 'x:1', '--data', '[1]'], ['--url', server.url, '--bogus']]) {
      const r = await modelfleet(['predict', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^modelfleet predict: /);
    }
    const unreachable = await modelfleet(['predict', '--url', 'http://127.0.0.1:1', '--retries', '0', '--data', '[[1]]']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /ECONNREFUSED/);
  });
});

describe('modelfleet test --contract', () => {
  test('-n requests of a batch, each checked against the targets: summary with p50/p90/p99, exit 0', async () => {
    const contract = file('iris.json', IRIS_CONTRACT);
    const r = await modelfleet(['test', '--contract', contract, '--url', server.url, '-n', '20', '--batch-size', '5', '--seed', '7']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /seldon over rest: 20 requests of 5 row\(s\), concurrency 1, seed 7/);
    assert.match(r.stdout, /ok 20 {2}errors 0/);
    assert.match(r.stdout, /latency ms {2}p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+/);
    const j = await modelfleet(['test', '--contract', contract, '--grpc', server.grpcTarget!, '--transport', 'grpc', '--payload', 'tensor', '-n', '12', '--concurrency', '3', '--json']);
    assert.equal(j.code, 0, j.stdout + j.stderr);
    const s = JSON.parse(j.stdout);
    assert.deepEqual([s.requests, s.ok, s.errors], [12, 12, 0]);
    assert.ok(s.latencyMs.p50 <= s.latencyMs.p90 && s.latencyMs.p90 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max);
  });

  test('--duration runs for that long at --concurrency; --progress draws the bar', async () => {
    const r = await modelfleet(['test', '--contract', file('iris2.json', IRIS_CONTRACT), '--url', server.url, '--protocol', 'v2', '--model', 'iris', '--outputs', 'predict_proba', '--binary', '--duration', '1.5', '--concurrency', '2', '--json', '--progress']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = JSON.parse(r.stdout);
    assert.ok(s.durationS >= 1.5, `ran ${s.durationS} s`);
    assert.ok(s.requests >= 2 && s.errors === 0, JSON.stringify(s));
    assert.match(r.stderr, /\r\[#+-*\] [\d.]+\/2 s {2}requests \d+ {2}errors 0/);
  });

  test('answers that break the contract and server errors are counted and grouped; exit 1', async () => {
    // V2's default output is the class label: one column where the targets declare three probabilities.
    const labels = await modelfleet(['test', '--contract', file('iris3.json', IRIS_CONTRACT), '--url', server.url, '--protocol', 'v2', '--model', 'iris', '-n', '3']);
    assert.equal(labels.code, 1);
    assert.match(labels.stdout, /ok 0 {2}errors 3/);
    assert.match(labels.stdout, /\s3 {2}malformed answer: answered 1 values per row, the contract's targets have 3/);
    const three = { features: IRIS_CONTRACT.features.slice(0, 3) };
    const bad = await modelfleet(['test', '--contract', file('three.json', three), '--url', server.url, '-n', '4', '--concurrency', '2']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /\s4 {2}HTTP 400: MICROSERVICE_BAD_DATA: expected 4 features per row, got 3/);
  });

  test('a bad contract is named and exits 2', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ features: [] }, /non-empty "features"/],
      [{ features: [{ name: 'a', ftype: 'ordinal' }] }, /features\[0\] \(a\): ftype must be "continuous" or "categorical"/],
      [{ features: [{ name: 'a', range: [3, 1] }] }, /range low 3 is above high 1/],
      [{ features: [{ name: 'c', ftype: 'categorical' }] }, /needs a non-empty "values"/],
      [{ features: [{ name: 'a', dtype: 'DOUBLE' }] }, /dtype must be FLOAT or INT/],
      ['{"features": [', /is not JSON/],
    ];
    for (const [i, [contract, message]] of cases.entries()) {
      const r = await modelfleet(['test', '--contract', file(`bad${i}.json`, contract), '--url', server.url]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});

describe('contract data', () => {
  const contract = parseContract({
    features: [
      { name: 'u', ftype: 'continuous', dtype: 'FLOAT', range: [-2, 3] },
      { name: 'i', ftype: 'continuous', dtype: 'INT', range: [0, 4] },
      { name: 'above', ftype: 'continuous', range: [10, 'inf'] },
      { name: 'below', ftype: 'continuous', range: ['-inf', -1] },
      { name: 'any', ftype: 'continuous' },
      { name: 'colour', ftype: 'categorical', values: ['red', 'green', 'blue'] },
      { name: 'r', ftype: 'continuous', range: [0, 1], repeat: 2 },
    ],
  });

  test('every field is honoured: ranges, INT, infinite bounds, categories, repeat, shape, seed', () => {
    assert.deepEqual(contract.features.map((f) => f.name), ['u', 'i', 'above', 'below', 'any', 'colour', 'r1', 'r2']);
    const rows = generateBatch(contract, 2000, rng(1)) as unknown[][];
    const col = (k: number) => rows.map((r) => r[k]);
    assert.ok(col(0).every((v) => typeof v === 'number' && v >= -2 && v <= 3));
    assert.ok(col(1).every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4));
    assert.deepEqual(new Set(col(1)), new Set([0, 1, 2, 3, 4]));
    assert.ok(col(2).every((v) => (v as number) > 10));
    assert.ok(col(3).every((v) => (v as number) < -1));
    assert.ok(col(4).some((v) => (v as number) < 0) && col(4).some((v) => (v as number) > 0));
    assert.deepEqual(new Set(col(5)), new Set(['red', 'green', 'blue']));
    assert.ok([...col(6), ...col(7)].every((v) => (v as number) >= 0 && (v as number) <= 1));
    assert.deepEqual(generateBatch(contract, 3, rng(42)), generateBatch(contract, 3, rng(42)));
    assert.notDeepEqual(generateBatch(contract, 3, rng(42)), generateBatch(contract, 3, rng(43)));
    const image = parseContract({ features: [{ name: 'px', dtype: 'INT', range: [0, 255], shape: [2, 3] }] });
    const batch = generateBatch(image, 4, rng(3)) as number[][][];
    assert.deepEqual([batch.length, batch[0].length, batch[0][0].length], [4, 2, 3]);
    assert.ok(batch.flat(2).every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
    const narrow = parseContract({ features: [{ name: 'n', dtype: 'INT', range: [0.2, 0.8] }, { name: 'w', shape: [2] }] });
    assert.ok((generateBatch(narrow, 50, rng(5)) as number[][]).every((r) => r.length === 3));
  });

  test('distributions match scipy: uniform within a range, normal when unbounded, lognormal off a bound', async () => {
    const rows = generateBatch(contract, 3000, rng(11)) as number[][];
    const p = await pythonJson<number[]>(
      `import sys, json
from scipy import stats
c = json.load(open(sys.argv[1]))
print(json.dumps([stats.kstest(c[0], 'uniform', args=(-2, 5)).pvalue,
                  stats.kstest(c[1], 'norm').pvalue,
                  stats.kstest([x - 10 for x in c[2]], 'lognorm', args=(1,)).pvalue]))`,
      ['scipy'],
      [file('samples.json', [rows.map((r) => r[0]), rows.map((r) => r[4]), rows.map((r) => r[2])])],
    );
    for (const pv of p) assert.ok(pv > 1e-4, `KS p-values ${p}`);
  });

  test('target checks: rows, width, ranges and categories', () => {
    const targets = parseContract({ features: [{ name: 'x' }], targets: [{ name: 'p', range: [0, 1], repeat: 2 }] }).targets;
    assert.equal(checkTargets(targets, 2, [2, 2], [0.1, 0.9, 0.5, 0.5]), undefined);
    assert.match(checkTargets(targets, 3, [2, 2], [0.1, 0.9, 0.5, 0.5])!, /answered 2 rows for 3 sent/);
    assert.match(checkTargets(targets, 2, [2, 2], [0.1, 1.9, 0.5, 0.5])!, /target p2: 1.9 is outside \[0, 1\]/);
    const cat = parseContract({ features: [{ name: 'x' }], targets: [{ name: 'c', ftype: 'categorical', values: [0, 1, 2] }] }).targets;
    assert.match(checkTargets(cat, 1, [1], [7])!, /7 is not one of \[0,1,2\]/);
  });
});
