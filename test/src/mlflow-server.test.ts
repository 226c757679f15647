// MLFLOW_SERVER over real sockets, on MLflow model folders assembled as MLflow writes them: answers compared with
// what scikit-learn, XGBoost and the model's own loader_module predict; every signature violation; every
// /invocations form; the version report and strict; start-up errors for flavors this machine cannot serve.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonGrpc } from './helpers/grpc-python.js';
import { assertClose } from './helpers/models.js';
import { mlflowModels, type MlflowFixtures } from './helpers/mlflow-models.js';
import { CLI, postJson, runToExit, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

// The ONNX engine is built on another branch; servers/mlflow/src/onnx.ts is where it gets connected.

let fx: MlflowFixtures;
before(async () => {
  fx = await mlflowModels();
});

/** Starts a server on a fixture for the enclosing describe; `started` is launch-to-ready in ms. */
function serve(name: string, extra: string[] = []): { s: () => ServerProcess; started: () => number } {
  let server: ServerProcess;
  let ms = 0;
  before(async () => {
    const t0 = performance.now();
    server = await serveCli(['MLFLOW_SERVER', '--model-uri', fx.dirs[name], '--model-name', name, ...extra]);
    await waitReady(server);
    ms = performance.now() - t0;
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });
  return { s: () => server, started: () => ms };
}

const post = (s: ServerProcess, route: string, body: unknown, headers: Record<string, string> = {}) => postJson(`${s.url}${route}`, body, headers);
const invocations = (s: ServerProcess, body: unknown, contentType = 'application/json') =>
  post(s, '/invocations', typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': contentType });
const metadata = async (s: ServerProcess, name: string) => (await (await fetch(`${s.url}/v2/models/${name}`)).json()) as any;
const columnsOf = (names: string[], rows: unknown[][]) =>
  names.map((n, j) => ({ name: n, datatype: typeof rows[0][j] === 'string' ? 'BYTES' : 'FP64', shape: [rows.length], data: rows.map((r) => r[j]) }));

for (const engine of ['native', 'python'] as const) {
  describe(`sklearn model with a column signature, engine=${engine}`, () => {
    const { s, started } = serve('iris', ['--param', `engine=${engine}`]);

    test('serves with the engine asked for, says why, and gives the start-up time', async (t) => {
      const md = await metadata(s(), 'iris');
      assert.equal(md.parameters.engine, engine);
      assert.match(s().logs(), engine === 'native' ? /serving mlflow\.sklearn on the native engine/ : /serving mlflow\.sklearn in Python \(engine=python\)/);
      t.diagnostic(`launch to ready: ${started().toFixed(0)} ms`);
    });

    test('Seldon: ndarray + names in any order become the signature columns; 1-D output has no names', async () => {
      const { columns, rows, predict } = fx.expected.iris;
      const order = [2, 0, 3, 1];
      const r = await post(s(), '/api/v1.0/predictions', { data: { names: order.map((j) => columns[j]), ndarray: rows.map((row: number[]) => order.map((j) => row[j])) } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data, { names: [], ndarray: predict });
      const positional = await post(s(), '/api/v1.0/predictions', { data: { ndarray: rows } });
      assert.deepEqual(positional.json.data.ndarray, predict);
    });

    test('/invocations: dataframe_split, dataframe_records, instances, inputs and CSV give the same predictions', async () => {
      const { columns, rows, predict } = fx.expected.iris;
      const records = rows.map((r: number[]) => Object.fromEntries(columns.map((c: string, j: number) => [c, r[j]])));
      const csv = [columns.join(','), ...rows.map((r: number[]) => r.join(','))].join('\n');
      const bodies: Array<[string, unknown, string?]> = [
        ['dataframe_split', { dataframe_split: { columns, data: rows } }],
        ['dataframe_records', { dataframe_records: records }],
        ['instances', { instances: rows }],
        ['inputs as named columns', { inputs: Object.fromEntries(columns.map((c: string, j: number) => [c, rows.map((r: number[]) => r[j])])) }],
        ['csv', csv, 'text/csv'],
        ['charset utf-8', { dataframe_split: { columns, data: rows } }, 'application/json; charset=utf-8'],
      ];
      for (const [what, body, type] of bodies) {
        const r = await invocations(s(), body, type);
        assert.equal(r.status, 200, `${what}: ${r.text}`);
        assert.deepEqual(r.json, { predictions: predict }, what);
      }
    });
  });
}

describe('sklearn model with a column signature: protocols, metadata, versions', () => {
  const { s } = serve('iris');

  test('V2: one input per column; metadata from the signature; content type pd', async () => {
    const { columns, rows, predict } = fx.expected.iris;
    const r = await post(s(), '/v2/models/iris/infer', { inputs: columnsOf(columns, rows) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.outputs, [{ name: 'predictions', datatype: 'INT64', shape: [rows.length], data: predict }]);
    const md = await metadata(s(), 'iris');
    assert.deepEqual(
      md.inputs.map((i: any) => [i.name, i.datatype, i.parameters.content_type]),
      columns.map((c: string) => [c, 'FP64', 'np']),
    );
    assert.deepEqual(md.outputs.map((o: any) => [o.name, o.datatype]), [['predictions', 'INT64']]);
    assert.equal(md.parameters.content_type, 'pd');
  });

  test('KServe V1 instances are rows in signature order', async () => {
    const { rows, predict } = fx.expected.iris;
    const r = await post(s(), '/v1/models/iris:predict', { instances: rows });
    assert.deepEqual(r.json, { predictions: predict });
  });

  test('gRPC: Seldon Predict with names, V2 ModelInfer one input per column, ModelMetadata from the signature', async () => {
    const { columns, rows, predict } = fx.expected.iris;
    const order = [3, 1, 0, 2];
    const r = await pythonGrpc(s().grpcTarget!, [
      { id: 'seldon', call: 'seldon', message: { data: { names: order.map((j) => columns[j]), ndarray: rows.map((row: number[]) => order.map((j) => row[j])) } } },
      {
        id: 'v2',
        call: 'infer',
        request: { model_name: 'iris', inputs: columns.map((c: string, j: number) => ({ name: c, datatype: 'FP64', shape: [rows.length], contents: { fp64_contents: rows.map((row: number[]) => row[j]) } })) },
      },
      { id: 'missing', call: 'infer', request: { model_name: 'iris', inputs: [{ name: columns[0], datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } }] } },
      { id: 'md', call: 'ModelMetadata', name: 'iris' },
    ]);
    assert.deepEqual(r.seldon.data.ndarray, predict);
    const [out] = r.v2.outputs;
    assert.deepEqual([out.name, out.datatype, out.shape.map(Number), out.contents.int64_contents.map(Number)], ['predictions', 'INT64', [rows.length], predict]);
    assert.equal(r.v2.parameters.content_type.string_param, 'np');
    assert.equal(r.missing.error, 'INVALID_ARGUMENT');
    assert.match(r.missing.details, /missing required columns "sepal width \(cm\)", "petal length \(cm\)", "petal width \(cm\)"/);
    // The V2 .proto's ModelMetadataResponse has no parameters: names, datatypes and shapes are what gRPC can say.
    assert.deepEqual(r.md.inputs.map((i: any) => [i.name, i.datatype, i.shape.map(Number)]), columns.map((c: string) => [c, 'FP64', [-1, 1]]));
    assert.deepEqual(r.md.outputs.map((o: any) => [o.name, o.datatype]), [['predictions', 'INT64']]);
  });

  test('the versions the model declares are compared with the interpreter, logged and in metadata', async () => {
    const md = await metadata(s(), 'iris');
    assert.deepEqual(md.parameters.declared_versions['scikit-learn'], { declared: '==1.3.0', installed: fx.versions.sklearn, ok: fx.versions.sklearn === '1.3.0' });
    assert.deepEqual(md.parameters.declared_versions.numpy, { declared: `==${fx.versions.numpy}`, installed: fx.versions.numpy, ok: true });
    assert.equal(md.parameters.declared_versions.mlflow, undefined); // modelfleet stands in for MLflow
    assert.equal(md.parameters.mlflow_version, '2.9.2');
    assert.match(s().logs(), new RegExp(`model declares scikit-learn==1\\.3\\.0 \\(requirements\\.txt\\) but the interpreter has ${fx.versions.sklearn.replace(/\./g, '\\.')}`));
  });

  test('the input example is run at load', async () => {
    assert.match(s().logs(), /input example answered: predictions \[2\]/);
  });

  test('/ping, /health and /version', async () => {
    for (const route of ['/ping', '/health']) {
      const r = await fetch(`${s().url}${route}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), '\n');
    }
    assert.equal(await (await fetch(`${s().url}/version`)).text(), '2.9.2');
  });

  test('/invocations rejects what MLflow rejects, with its error shape', async () => {
    const { columns, rows } = fx.expected.iris;
    const cases: Array<[string, unknown, string, number, RegExp]> = [
      ['a bare list (pre-2.0 protocol)', rows, 'application/json', 400, /MLflow 2\.0/],
      ['two formats', { instances: rows, inputs: rows }, 'application/json', 400, /exactly one of dataframe_split, dataframe_records, instances, inputs/],
      ['an unknown field', { dataframe_split: { columns, data: rows }, extra: 1 }, 'application/json', 400, /got dataframe_split, extra/],
      ['text/plain', 'x', 'text/plain', 415, /application\/json and text\/csv/],
      ['charset latin-1', { instances: rows }, 'application/json; charset=latin-1', 415, /charset=latin-1/],
      ['broken JSON', '{"instances": [', 'application/json', 400, /invalid JSON/],
      ['ragged dataframe_split', { dataframe_split: { columns, data: [[1, 2]] } }, 'application/json', 400, /data\[0\] has 2 values for 4 columns/],
      ['CSV with a short row', `${columns.join(',')}\n1,2\n`, 'text/csv', 400, /row 1 has 2 fields/],
    ];
    for (const [what, body, type, status, message] of cases) {
      const r = await invocations(s(), typeof body === 'string' ? body : JSON.stringify(body), type);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assert.equal(r.json.error_code, 'BAD_REQUEST', what);
      assert.match(r.json.message, message, what);
    }
  });
});

describe('strict=true', () => {
  test('refuses to start when the model declares other versions than the interpreter has', async () => {
    const { code, output } = await runToExit(
      [CLI, 'serve', 'MLFLOW_SERVER', '--model-uri', fx.dirs.iris, '--param', 'strict=true'],
      { PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0', MODELFLEET_HOST: '127.0.0.1' },
    );
    assert.equal(code, 1, output);
    assert.match(output, /strict=true and the interpreter .* differs from what the model declares: .*scikit-learn==1\.3\.0 \(requirements\.txt\) but the interpreter has/);
  });
});

describe('sklearn model without a signature (strict=true, versions match)', () => {
  const { s } = serve('iris-nosig', ['--param', 'strict=true']);
  const rows = () => fx.expected.iris.rows as number[][];

  test('starts under strict, on the native engine, with the input shape from the model', async () => {
    const md = await metadata(s(), 'iris-nosig');
    assert.equal(md.parameters.engine, 'native');
    assert.deepEqual(md.inputs, [{ name: 'input-0', datatype: 'FP64', shape: [-1, 4] }]);
  });

  test('Seldon ndarray, V2 tensor, /invocations instances and positional dataframe_split agree with sklearn', async () => {
    const want = fx.expected['iris-nosig'].predict;
    const seldon = await post(s(), '/api/v1.0/predictions', { data: { ndarray: rows() } });
    assert.deepEqual(seldon.json.data.ndarray, want);
    const v2 = await post(s(), '/v2/models/iris-nosig/infer', { inputs: [{ name: 'x', datatype: 'FP64', shape: [4, 4], data: rows().flat() }] });
    assert.deepEqual(v2.json.outputs[0].data, want);
    assert.deepEqual((await invocations(s(), { instances: rows() })).json, { predictions: want });
    assert.deepEqual((await invocations(s(), { dataframe_split: { data: rows() } })).json, { predictions: want });
  });
});

describe('sklearn model without a signature, engine=python, xtype=DataFrame', () => {
  const { s } = serve('iris-nosig', ['--param', 'engine=python', '--param', 'xtype=DataFrame']);

  test('a Seldon table without names is a DataFrame with positional columns, as Seldon built it', async () => {
    const want = fx.expected['iris-nosig'].predict;
    const r = await post(s(), '/api/v1.0/predictions', { data: { ndarray: fx.expected.iris.rows } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.ndarray, want);
    assert.deepEqual((await invocations(s(), { dataframe_split: { data: fx.expected.iris.rows } })).json, { predictions: want });
  });
});

describe('signature enforcement (one column of each numeric type, native engine)', () => {
  const { s } = serve('typed');
  const records = () => structuredClone(fx.expected.typed.records) as Array<Record<string, unknown>>;
  const v2 = (inputs: unknown[]) => post(s(), '/v2/models/typed/infer', { inputs });
  const typedInputs = (overrides: Record<string, { datatype: string; data: unknown[] }> = {}) => {
    const recs = records();
    const base: Record<string, { datatype: string; data: unknown[] }> = {
      n_long: { datatype: 'INT64', data: recs.map((r) => r.n_long) },
      n_int: { datatype: 'INT32', data: recs.map((r) => r.n_int) },
      x_float: { datatype: 'FP32', data: recs.map((r) => r.x_float) },
      x_double: { datatype: 'FP64', data: recs.map((r) => r.x_double) },
      flag: { datatype: 'BOOL', data: recs.map((r) => r.flag) },
      ...overrides,
    };
    return Object.entries(base).map(([name, v]) => ({ name, shape: [v.data.length], ...v }));
  };

  test('JSON numbers and typed V2 columns give what sklearn predicts (float columns rounded to float32)', async () => {
    const want = fx.expected.typed.predict;
    assert.equal((await metadata(s(), 'typed')).parameters.engine, 'native');
    const json = await invocations(s(), { dataframe_records: records() });
    assert.equal(json.status, 200, json.text);
    // The native engine's dot products may sum in another order than BLAS: the parity gate's 1e-9.
    assertClose(json.json.predictions, want, 1e-9);
    const typed = await v2(typedInputs());
    assert.equal(typed.status, 200, typed.text);
    assertClose(typed.json.outputs[0].data, want, 1e-9);
  });

  test('safe upcasts are taken: INT8 -> integer, INT32 -> long, INT16 -> float, UINT32 -> double; extra columns are dropped', async () => {
    const recs = records();
    const r = await v2([
      ...typedInputs({
        n_int: { datatype: 'INT8', data: recs.map((x) => x.n_int) },
        n_long: { datatype: 'INT32', data: recs.map((x) => x.n_long) },
        x_float: { datatype: 'INT16', data: [1, 2, 3] },
        x_double: { datatype: 'UINT32', data: [4, 5, 6] },
      }),
      { name: 'not_in_signature', datatype: 'BYTES', shape: [3], data: ['a', 'b', 'c'] },
    ]);
    assert.equal(r.status, 200, r.text);
    const changed = recs.map((x, i) => ({ ...x, x_float: i + 1, x_double: i + 4 }));
    const ref = await invocations(s(), { dataframe_records: changed });
    assert.deepEqual(r.json.outputs[0].data, ref.json.predictions);
  });

  const violations: Array<[string, () => Promise<{ status: number; json: any }>, RegExp]> = [
    ['a missing required column', () => invocations(s(), { dataframe_records: records().map((r) => ({ ...r, n_int: undefined })) }), /missing required column "n_int"; the model takes n_long: long, n_int: integer/],
    ['a fraction in a long column', () => invocations(s(), { dataframe_records: records().map((r) => ({ ...r, n_long: 1.5 })) }), /column "n_long": expected long, got 1\.5, which is not an integer \(row 0\)/],
    ['a null in an integer column', () => invocations(s(), { dataframe_records: records().map((r, i) => ({ ...r, n_int: i === 2 ? null : r.n_int })) }), /column "n_int": expected integer, got a missing value \(null\/NaN\) \(row 2\)/],
    ['an integer out of int32 range', () => invocations(s(), { dataframe_records: records().map((r) => ({ ...r, n_int: 2 ** 40 })) }), /column "n_int": expected integer, got 1099511627776, outside the range of INT32/],
    ['a word in a double column', () => invocations(s(), { dataframe_records: records().map((r) => ({ ...r, x_double: 'abc' })) }), /column "x_double": expected double, got "abc" \(row 0\)/],
    ['a number in a boolean column', () => invocations(s(), { dataframe_records: records().map((r) => ({ ...r, flag: 1 })) }), /column "flag": expected boolean, got 1 \(row 0\)/],
    ['INT64 into integer (may overflow)', () => v2(typedInputs({ n_int: { datatype: 'INT64', data: [1, 2, 3] } })), /column "n_int": cannot safely convert INT64 to integer/],
    ['INT64 into double (long -> double loses precision)', () => v2(typedInputs({ x_double: { datatype: 'INT64', data: [1, 2, 3] } })), /column "x_double": cannot safely convert INT64 to double/],
    ['INT32 into float', () => v2(typedInputs({ x_float: { datatype: 'INT32', data: [1, 2, 3] } })), /column "x_float": cannot safely convert INT32 to float/],
    ['FP32 into long', () => v2(typedInputs({ n_long: { datatype: 'FP32', data: [1, 2, 3] } })), /column "n_long": cannot safely convert FP32 to long/],
    ['a column that is not 1-D', () => v2([...typedInputs().slice(1), { name: 'n_long', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }]), /input "n_long": a column must have shape \[n\] or \[n, 1\], got \[1,3\]/],
    ['columns of different lengths', () => v2(typedInputs({ flag: { datatype: 'BOOL', data: [true] } })), /input "flag" has 1 rows, the others 3/],
    ['a positional table of the wrong width', () => post(s(), '/api/v1.0/predictions', { data: { ndarray: [[1, 2, 3]] } }), /expected 5 columns \(n_long: long, n_int: integer, x_float: float, x_double: double, flag: boolean\), got 3/],
  ];
  for (const [what, send, message] of violations) {
    test(`400 for ${what}`, async () => {
      const r = await send();
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(r.json.message ?? r.json.error ?? r.json.status?.info, message);
    });
  }
});

describe('sklearn model with a tensor signature', () => {
  const { s } = serve('tensor');
  const rows = () => fx.expected.iris.rows as number[][];

  test('JSON arrays on every protocol agree with sklearn; metadata is the tensor spec', async () => {
    const want = fx.expected.tensor.predict;
    assert.deepEqual((await invocations(s(), { inputs: rows() })).json, { predictions: want });
    assert.deepEqual((await post(s(), '/api/v1.0/predictions', { data: { ndarray: rows() } })).json.data.ndarray, want);
    const v2 = await post(s(), '/v2/models/tensor/infer', { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [4, 4], data: rows().flat() }] });
    assert.deepEqual(v2.json.outputs[0].data, want);
    const md = await metadata(s(), 'tensor');
    assert.deepEqual(md.inputs, [{ name: 'input-0', datatype: 'FP64', shape: [-1, 4], parameters: { content_type: 'np' } }]);
    assert.equal(md.parameters.content_type, 'np');
  });

  test('a tensor of another dtype or shape is a 400 saying which', async () => {
    const dtype = await post(s(), '/v2/models/tensor/infer', { inputs: [{ name: 'input-0', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    assert.equal(dtype.status, 400);
    assert.match(dtype.json.error, /input tensor: expected dtype float64, got FP32/);
    const shape = await invocations(s(), { inputs: [[1, 2, 3]] });
    assert.equal(shape.status, 400);
    assert.match(shape.json.message, /input tensor: expected shape \[-1,4\] \(-1: any size\), got \[1,3\]/);
  });
});

describe('xgboost model (native engine)', () => {
  const { s } = serve('xgboost');

  test("pyfunc's predict (XGBClassifier labels) on Seldon, V2 columns and /invocations", async () => {
    const { columns, rows, predict } = fx.expected.xgboost;
    const md = await metadata(s(), 'xgboost');
    assert.equal(md.parameters.engine, 'native');
    assert.equal(md.parameters.native_output, 'predict');
    assert.deepEqual((await post(s(), '/api/v1.0/predictions', { data: { ndarray: rows } })).json.data.ndarray, predict);
    const v2 = await post(s(), '/v2/models/xgboost/infer', { inputs: columnsOf(columns, rows).reverse() });
    assert.equal(v2.status, 200, v2.text);
    assert.deepEqual(v2.json.outputs[0].data, predict);
    assert.deepEqual((await invocations(s(), { dataframe_split: { columns, data: rows } })).json, { predictions: predict });
  });
});

describe('python_function model with its own loader_module (code/ and data/)', () => {
  const { s } = serve('custom');
  const c = (k: string) => fx.expected.custom[k] as { records: Array<Record<string, unknown>>; params: Record<string, unknown> | null; answer: Array<Record<string, unknown>> };
  const body = () => ({ dataframe_records: c('with_params').records });

  test("answers what the model's own predict gives: records on /invocations, params applied, optional column left out", async () => {
    const r = await invocations(s(), { ...body(), params: c('with_params').params });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { predictions: c('with_params').answer });
    const noCount = await invocations(s(), { dataframe_records: c('no_count').records });
    assert.deepEqual(noCount.json, { predictions: c('no_count').answer });
  });

  test('V2: one output per DataFrame column; Seldon: the columns are data.names', async () => {
    const [row] = c('one_row').records;
    const [want] = c('one_row').answer;
    const v2 = await post(s(), '/v2/models/custom/infer', {
      inputs: [
        { name: 'name', datatype: 'BYTES', shape: [1], data: [row.name] },
        { name: 'when', datatype: 'BYTES', shape: [1], data: [row.when] },
        { name: 'amount', datatype: 'FP64', shape: [1], data: [row.amount] },
      ],
    });
    assert.equal(v2.status, 200, v2.text);
    assert.deepEqual(
      v2.json.outputs.map((o: any) => [o.name, o.data]),
      Object.entries(want).map(([k, v]) => [k, [v]]),
    );
    assert.deepEqual(v2.json.outputs.map((o: any) => o.datatype), ['INT64', 'INT64', 'FP64', 'BYTES']);
    assert.equal(v2.json.parameters.content_type, 'pd');
    const seldon = await post(s(), '/api/v1.0/predictions', { data: { names: ['amount', 'name', 'when'], ndarray: [[row.amount, row.name, row.when]] } });
    assert.equal(seldon.status, 200, seldon.text);
    assert.deepEqual(seldon.json.data.names, Object.keys(want));
    assert.deepEqual(seldon.json.data.ndarray, [Object.values(want).map(String)]);
    const md = await metadata(s(), 'custom');
    assert.deepEqual(md.outputs.map((o: any) => o.name), Object.keys(want));
    assert.deepEqual(md.inputs.map((i: any) => [i.name, i.datatype, i.parameters]), [
      ['name', 'BYTES', { content_type: 'str' }],
      ['when', 'BYTES', { content_type: 'datetime' }],
      ['amount', 'FP64', { content_type: 'np' }],
      ['count', 'INT64', { content_type: 'np', optional: true }],
    ]);
  });

  test('gRPC: V2 BYTES and FP64 columns in, one output per DataFrame column out; Seldon names are the columns', async () => {
    const [row] = c('one_row').records;
    const [want] = c('one_row').answer;
    const b64 = (v: unknown) => Buffer.from(String(v)).toString('base64');
    const r = await pythonGrpc(s().grpcTarget!, [
      {
        id: 'v2',
        call: 'infer',
        request: {
          model_name: 'custom',
          inputs: [
            { name: 'name', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(row.name)] } },
            { name: 'when', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(row.when)] } },
            { name: 'amount', datatype: 'FP64', shape: [1], contents: { fp64_contents: [row.amount] } },
          ],
        },
      },
      { id: 'seldon', call: 'seldon', message: { data: { names: ['when', 'amount', 'name'], ndarray: [[row.when, row.amount, row.name]] } } },
    ]);
    const value = (o: any) => {
      const [v] = o.contents.int64_contents ?? o.contents.fp64_contents ?? o.contents.bytes_contents.map((x: string) => Buffer.from(x, 'base64').toString());
      return o.datatype === 'INT64' ? Number(v) : v;
    };
    assert.deepEqual(Object.fromEntries(r.v2.outputs.map((o: any) => [o.name, value(o)])), want);
    assert.equal(r.v2.parameters.content_type.string_param, 'pd');
    assert.deepEqual(r.seldon.data.names, Object.keys(want));
    assert.deepEqual(r.seldon.data.ndarray, [Object.values(want).map(String)]);
  });

  test('a bad datetime, a bad param and a missing column are 400s naming them', async () => {
    const badDate = await invocations(s(), { dataframe_records: [{ name: 'a', when: 'yesterday-ish', amount: 1 }] });
    assert.equal(badDate.status, 400);
    assert.match(badDate.json.message, /column "when": expected datetime, got "yesterday-ish" \(row 0\)/);
    const badParam = await invocations(s(), { ...body(), params: { scale: 'big' } });
    assert.equal(badParam.status, 400);
    assert.match(badParam.json.message, /param "scale": expected double, got "big"/);
    const missing = await post(s(), '/api/v1.0/predictions', { data: { names: ['name', 'amount'], ndarray: [['a', 1]] } });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.status.reason, 'MICROSERVICE_BAD_DATA');
    assert.match(missing.json.status.info, /missing required column "when"/);
  });
});

describe('flavors this machine cannot serve: start-up errors that say why', () => {
  const run = (name: string) =>
    runToExit([CLI, 'serve', 'MLFLOW_SERVER', '--model-uri', fx.dirs[name]], {
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
      MODELFLEET_HOST: '127.0.0.1',
    });

  test('lightgbm: names the missing package and the install command', async () => {
    const { code, output } = await run('lightgbm');
    assert.equal(code, 1, output);
    assert.match(output, /mlflow\.lightgbm model needs Python with lightgbm/);
    assert.match(output, /Install with: pip install lightgbm numpy pandas/);
  });
});

describe('onnx model (ONNX engine)', () => {
  const { s } = serve('onnx');
  const rows = () => fx.expected.onnx.rows as number[][];

  test('V2 and /invocations answer every graph output, equal to the graph computed in float32; labels equal sklearn', async () => {
    const { logits, label, sklearn_predict } = fx.expected.onnx;
    assert.deepEqual(label, sklearn_predict);
    const md = await metadata(s(), 'onnx');
    assert.equal(md.parameters.engine, 'onnx');
    assert.deepEqual(md.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 4], parameters: { content_type: 'np' } }]);
    assert.deepEqual(md.outputs.map((o: any) => [o.name, o.datatype]), [['logits', 'FP32'], ['label', 'INT64']]);
    const v2 = await post(s(), '/v2/models/onnx/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 4], data: rows().flat() }] });
    assert.equal(v2.status, 200, v2.text);
    const byName = Object.fromEntries(v2.json.outputs.map((o: any) => [o.name, o]));
    assertClose(byName.logits.data, (logits as number[][]).flat(), 1e-6);
    assert.deepEqual(byName.label.data, label);
    for (const body of [{ inputs: rows() }, { inputs: { x: rows() } }, { instances: rows() }]) {
      const r = await invocations(s(), body);
      assert.equal(r.status, 200, r.text);
      assertClose(r.json.predictions.logits, logits, 1e-6);
      assert.deepEqual(r.json.predictions.label, label);
    }
  });

  test('a tensor of another dtype or shape is a 400', async () => {
    const dtype = await post(s(), '/v2/models/onnx/infer', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    assert.equal(dtype.status, 400);
    assert.match(dtype.json.error, /input tensor "x": expected dtype float32, got INT32/);
    const shape = await invocations(s(), { inputs: [[1, 2, 3]] });
    assert.equal(shape.status, 400);
    assert.match(shape.json.message, /input tensor "x": expected shape \[-1,4\]/);
  });
});
