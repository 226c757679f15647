// MLFLOW_SERVER pieces without a server: version specifiers, what the environment files declare, MLmodel parsing
// errors, and value conversions at the edges of each column type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { castColumn, declaredEnvironment, enforceParams, parseRequirement, readMlflowModel, satisfies } from '@modelfleet/mlflowserver';

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
