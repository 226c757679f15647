// MLFLOW_SERVER pieces without a server: version specifiers, what the environment files declare, MLmodel parsing
// errors, value conversions at the edges of each column type, and how the onnx flavor feeds a graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { castColumn, declaredEnvironment, enforceParams, OnnxEngine, parseRequirement, readMlflowModel, satisfies } from '@modelfleet/mlflowserver';
import type { InferenceRequest, ModelRuntime, Tensor } from '@modelfleet/shared';

test('version specifiers as pip reads them', () => {
  const cases: Array<[string, string, boolean]> = [
    ['1.2.1', '==1.3.0', false],
    ['1.3.0', '==1.3', true],
    ['1.3.2', '==1.3.*', true],
    ['1.4.0', '==1.3.*', false],
    ['1.2.1', '>=1.0,<1.3', true],
    ['1.3.0', '>=1.0,<1.3', false],
    ['1.3.5', '~=1.3.2', true],
    ['1.4.0', '~=1.3.2', false],
    ['2.0.0', '!=2.0.0', false],
    ['1.24.2', '', true],
  ];
  for (const [installed, spec, ok] of cases) assert.equal(satisfies(installed, spec), ok, `${installed} ${spec}`);
});

test('requirement lines: extras, markers and comments dropped; options and URLs skipped; names normalised', () => {
  assert.deepEqual(parseRequirement('Scikit_Learn[alldeps] == 1.3.0 ; python_version > "3.8"  # pinned', 'r'), { name: 'scikit-learn', spec: '==1.3.0', source: 'r' });
  assert.equal(parseRequirement('-r requirements.txt', 'r'), undefined);
  assert.equal(parseRequirement('git+https://github.com/x/y.git', 'r'), undefined);
  assert.equal(parseRequirement('# comment', 'r'), undefined);
});

test('declared environment: requirements.txt first, then python_env.yaml, conda.yaml, flavor versions', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mlflow-env-'));
  writeFileSync(path.join(root, 'MLmodel'), 'flavors:\n  python_function: {loader_module: mlflow.sklearn}\n  sklearn: {sklearn_version: 0.24.2}\n  xgboost: {xgb_version: 1.7.6}\n');
  writeFileSync(path.join(root, 'requirements.txt'), 'mlflow==2.9.2\nscikit-learn==1.3.0\n');
  writeFileSync(path.join(root, 'python_env.yaml'), 'python: 3.9.18\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt, pandas>=1.5]\n');
  writeFileSync(path.join(root, 'conda.yaml'), 'dependencies:\n- python=3.8\n- numpy=1.24\n- pip:\n  - scikit-learn==0.23\n  - pandas==1.0\n');
  const env = declaredEnvironment(readMlflowModel(root));
  assert.deepEqual(env.python, { version: '3.9.18', source: 'python_env.yaml' });
  assert.deepEqual(
    env.requirements.map((r) => [r.name, r.spec, r.source]),
    [
      ['scikit-learn', '==1.3.0', 'requirements.txt'],
      ['pandas', '>=1.5', 'python_env.yaml'],
      ['numpy', '==1.24.*', 'conda.yaml'],
      ['xgboost', '==1.7.6', 'MLmodel flavors.xgboost.xgb_version'],
    ],
  );
});

test('MLmodel problems are start-up errors that say what is wrong', () => {
  const write = (mlmodel: string) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'mlmodel-'));
    writeFileSync(path.join(root, 'MLmodel'), mlmodel);
    return root;
  };
  assert.throws(() => readMlflowModel(mkdtempSync(path.join(os.tmpdir(), 'empty-'))), /no MLmodel file in/);
  assert.throws(() => readMlflowModel(write('flavors: [')), /is not valid YAML/);
  assert.throws(
    () => readMlflowModel(write(`flavors: {}\nsignature:\n  inputs: '[{"type": "double", "name": "a"}, {"type": "double"}]'\n`)),
    /either every column has a name or none has/,
  );
  assert.throws(
    () => readMlflowModel(write(`flavors: {}\nsignature:\n  inputs: '[{"type": "array", "items": {"type": "double"}, "name": "v"}]'\n`)),
    /\(v\): column type "array" is not supported/,
  );
});

test('column conversions at the edges: int32 bounds, float32 rounding, numeric strings, booleans from text', () => {
  const fp64 = (data: number[]) => ({ name: 'c', datatype: 'FP64' as const, shape: [data.length], data: Float64Array.from(data) });
  const int = castColumn(fp64([2 ** 31 - 1, -(2 ** 31)]), { name: 'c', type: 'integer', required: true }, 'column "c"');
  assert.deepEqual([int.datatype, Array.from(int.data as Int32Array)], ['INT32', [2 ** 31 - 1, -(2 ** 31)]]);
  assert.throws(() => castColumn(fp64([2 ** 31]), { name: 'c', type: 'integer', required: true }, 'column "c"'), /outside the range of INT32/);
  const f = castColumn(fp64([0.1]), { name: 'c', type: 'float', required: true }, 'column "c"');
  assert.deepEqual([f.datatype, (f.data as Float32Array)[0]], ['FP32', Math.fround(0.1)]);
  const text = { name: 'c', datatype: 'BYTES' as const, shape: [2], data: ['1.5', ' 2 '] };
  assert.deepEqual(Array.from(castColumn(text, { name: 'c', type: 'double', required: true }, 'column "c"').data as Float64Array), [1.5, 2]);
  const bools = castColumn({ name: 'c', datatype: 'BYTES', shape: [2], data: ['True', 'false'] }, { name: 'c', type: 'boolean', required: true }, 'column "c"');
  assert.deepEqual([bools.datatype, Array.from(bools.data as Uint8Array)], ['BOOL', [1, 0]]);
  assert.throws(() => castColumn(text, { name: 'c', type: 'long', required: true }, 'column "c"'), /column "c": expected long, got 1\.5, which is not an integer \(row 0\)/);
  // Raw bytes (gRPC bytes_contents) are text for datetime and numeric columns, base64 for binary ones.
  const raw = { name: 'c', datatype: 'BYTES' as const, shape: [1], data: [new Uint8Array(Buffer.from('2022-07-01'))] };
  assert.deepEqual(castColumn(raw, { name: 'c', type: 'datetime', required: true }, 'column "c"').data, ['2022-07-01']);
  assert.deepEqual(castColumn(raw, { name: 'c', type: 'binary', required: true }, 'column "c"').data, [Buffer.from('2022-07-01').toString('base64')]);
});

test('params: declared ones converted, defaults filled in, undeclared ones ignored', () => {
  const specs = [
    { name: 'k', type: 'long' as const, default: 5, shape: null },
    { name: 'tags', type: 'string' as const, default: null, shape: [-1] },
  ];
  assert.deepEqual(enforceParams({ tags: ['a', 'b'], other: 1 }, specs), { k: 5, tags: ['a', 'b'] });
  assert.deepEqual(enforceParams({ k: 3 }, specs), { k: 3, tags: null });
  assert.throws(() => enforceParams({ k: 2.5 }, specs), /param "k": expected long, got 2\.5, which is not an integer/);
  assert.throws(() => enforceParams({ tags: 'a' }, specs), /param "tags": expected a list of string/);
});

/** A one-input graph y = x + 1 (FP32 [-1, 2]) with a second output s = sum of each row: records what it is fed. */
class AddOne implements ModelRuntime {
  fed: Tensor[] = [];
  constructor(private readonly inputs = [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }]) {}
  async load() {}
  async unload() {}
  defaultOutputs() {
    return [];
  }
  metadata() {
    return { name: 'g', platform: 'onnx', inputs: this.inputs, outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 2] }, { name: 's', datatype: 'FP32' as const, shape: [-1] }] };
  }
  async infer(request: InferenceRequest) {
    this.fed = request.inputs;
    assert.deepEqual(request.outputs?.map((o) => o.name), ['y', 's']); // every graph output is asked for
    const x = request.inputs[0].data as Float32Array;
    const n = request.inputs[0].shape[0];
    const y = x.map((v) => v + 1);
    const s = Float32Array.from({ length: n }, (_, i) => y[2 * i] + y[2 * i + 1]);
    return { outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [n, 2], data: y }, { name: 's', datatype: 'FP32' as const, shape: [n], data: s }] };
  }
}

test('onnx flavor: DataFrame columns become the one graph input as a table, arrays and dicts go in by name, dtypes checked', async () => {
  const fp64 = (name: string, shape: number[], data: number[]): Tensor => ({ name, datatype: 'FP64', shape, data: Float64Array.from(data) });
  const g = new AddOne();
  const engine = new OnnxEngine(g);
  const pd = await engine.predict({ contentType: 'pd', tensors: [fp64('a', [2], [1, 3]), fp64('b', [2], [2, 4.1])] });
  assert.deepEqual([g.fed[0].name, g.fed[0].datatype, g.fed[0].shape, Array.from(g.fed[0].data as Float32Array)], ['x', 'FP32', [2, 2], [1, 2, 3, Math.fround(4.1)]]);
  // y is not a column, so the answer is a dict of arrays, as MLflow's onnx pyfunc gives for such outputs.
  assert.deepEqual([pd.contentType, pd.outputs.map((o) => o.name)], ['dict', ['y', 's']]);
  assert.deepEqual(Array.from(pd.outputs[1].data as Float32Array), [Math.fround(2 + 3), Math.fround(4 + Math.fround(4.1) + 1)]);
  await engine.predict({ contentType: 'np', tensors: [fp64('input-0', [1, 2], [5, 6])] });
  assert.deepEqual([g.fed[0].name, Array.from(g.fed[0].data as Float32Array)], ['x', [5, 6]]);
  await engine.predict({ contentType: 'dict', tensors: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([7, 8]) }] });
  assert.deepEqual(Array.from(g.fed[0].data as Float32Array), [7, 8]);
  await assert.rejects(engine.predict({ contentType: 'np', tensors: [{ name: 'x', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from([1n, 2n]) }] }), /input tensor "x": expected dtype float32, got INT64/);
  await assert.rejects(engine.predict({ contentType: 'np', tensors: [fp64('x', [1, 3], [1, 2, 3])] }), /input tensor "x": expected shape \[-1,2\] \(-1: any size\), got \[1,3\]/);
  await assert.rejects(engine.predict({ contentType: 'pd', tensors: [{ name: 'w', datatype: 'BYTES', shape: [1], data: ['a'] }, fp64('b', [1], [1])] }), /column "w" holds strings/);

  const two = new AddOne([{ name: 'p', datatype: 'FP32', shape: [-1, 1] }, { name: 'q', datatype: 'FP32', shape: [-1, 1] }]);
  const byName = new OnnxEngine(two);
  await assert.rejects(byName.predict({ contentType: 'pd', tensors: [fp64('p', [1], [1])] }), /missing column "q": the ONNX graph takes p, q/);
  await assert.rejects(byName.predict({ contentType: 'np', tensors: [fp64('x', [1, 2], [1, 2])] }), /the ONNX graph takes 2 named inputs \(p, q\)/);
  await byName.predict({ contentType: 'pd', tensors: [fp64('q', [1], [2]), fp64('p', [1], [1])] });
  assert.deepEqual(two.fed.map((t) => [t.name, t.shape, Array.from(t.data as Float32Array)]), [['p', [1, 1], [1]], ['q', [1, 1], [2]]]);
});
