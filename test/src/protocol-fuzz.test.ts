// Issue 16 item 9: property-based fuzzing (fast-check, fixed seed) of every REST protocol against a real server:
// valid-looking and broken bodies, structured and raw. Properties: never a 5xx, the protocol's error shape on
// every 4xx, and the server still answers afterwards (no crash).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const SEED = 16;
const RUNS = 900; // per protocol; a few thousand in all, about a minute here

let server: ServerProcess;
before(async () => {
  const models = await sklearnModels();
  server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris'], { MODELFLEET_MAX_BODY_SIZE: '1mb' });
  await waitReady(server);
});
after(async () => {
  assert.equal(await server.stop(), 0, server.logs());
});

async function send(path: string, body: string | Uint8Array, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: r.status, text: await r.text() };
}

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16', 'BYTES', 'FLOAT', ''];
const scalar = fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 5 }), fc.constant(1e308), fc.constant(-0));
const nested = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 5 })),
})).value;
/** Rows of numbers (what a model wants) mixed with anything. */
const rows = fc.oneof(
  fc.array(fc.array(fc.double({ noNaN: true }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
  fc.array(fc.array(scalar, { maxLength: 6 }), { maxLength: 4 }),
  nested,
);
const anyJson = fc.jsonValue({ maxDepth: 4 });
/** A JSON text with one character replaced, dropped or inserted (most become syntax errors, some stay valid). */
const mutated = (doc: fc.Arbitrary<unknown>) =>
  fc.tuple(doc, fc.nat(), fc.constantFrom('', '{', '}', '[', ']', ',', ':', '"', 'NaN', '-', '1e999', '\\', '\u0000', 'null')).map(([d, at, ch]) => {
    const text = JSON.stringify(d) ?? 'null';
    const i = at % (text.length + 1);
    return text.slice(0, i) + ch + text.slice(i + (ch === '' ? 1 : 0));
  });

const seldonMessage = fc.record(
  {
    data: fc.oneof(
      fc.record({ names: fc.array(fc.string({ maxLength: 3 }), { maxLength: 5 }), ndarray: rows }, { requiredKeys: [] }),
      fc.record({ tensor: fc.record({ shape: fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), values: fc.array(scalar, { maxLength: 20 }) }, { requiredKeys: [] }) }),
      fc.record({ tftensor: fc.record({ dtype: fc.constantFrom('DT_DOUBLE', 'DT_FLOAT', 'DT_INT64', 'DT_STRING', 'DT_BOGUS'), tensorShape: fc.record({ dim: fc.array(fc.record({ size: fc.oneof(fc.string({ maxLength: 2 }), fc.integer({ min: -1, max: 5 })) }), { maxLength: 3 }) }), doubleVal: fc.array(fc.double(), { maxLength: 8 }), tensorContent: fc.base64String({ maxLength: 40 }) }, { requiredKeys: [] }) }),
      anyJson,
    ),
    meta: fc.oneof(fc.record({ puid: fc.string({ maxLength: 4 }), tags: fc.dictionary(fc.string({ maxLength: 3 }), anyJson, { maxKeys: 3 }), routing: anyJson }, { requiredKeys: [] }), anyJson),
    jsonData: anyJson,
    strData: fc.oneof(fc.string({ maxLength: 8 }), anyJson),
    binData: fc.oneof(fc.base64String({ maxLength: 12 }), anyJson),
  },
  { requiredKeys: [] },
);

const v2Input = fc.record(
  {
    name: fc.oneof(fc.constant('input-0'), fc.string({ maxLength: 4 }), anyJson),
    datatype: fc.oneof(fc.constantFrom(...DATATYPES), anyJson),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), fc.constant([1, 4]), anyJson),
    data: fc.oneof(rows, fc.array(scalar, { maxLength: 10 }), nested),
    parameters: fc.oneof(fc.record({ content_type: fc.constantFrom('base64', 'str', 'np'), binary_data_size: fc.oneof(fc.integer({ min: -5, max: 64 }), anyJson) }, { requiredKeys: [] }), anyJson),
  },
  { requiredKeys: [] },
);
const v2Request = fc.record(
  {
    id: anyJson,
    inputs: fc.oneof(fc.array(v2Input, { maxLength: 3 }), anyJson),
    outputs: fc.oneof(fc.array(fc.record({ name: fc.oneof(fc.constantFrom('predict', 'predict_proba', 'decision_function', 'nope'), anyJson), parameters: anyJson }, { requiredKeys: [] }), { maxLength: 3 }), anyJson),
    parameters: anyJson,
  },
  { requiredKeys: [] },
);
const v1Request = fc.record({ instances: fc.oneof(rows, anyJson), inputs: fc.oneof(rows, anyJson) }, { requiredKeys: [] });

const body = (structured: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: structured.map((m) => JSON.stringify(m)), weight: 3 }, { arbitrary: mutated(structured), weight: 2 }, { arbitrary: fc.string({ maxLength: 40 }), weight: 1 });

const isSeldonError = (j: any) => j?.status?.status === 1 && j.status.code === -1 && typeof j.status.info === 'string' && typeof j.status.reason === 'string';
const isV2Error = (j: any) => typeof j?.error === 'string';

function check(r: { status: number; text: string }, shape: (j: unknown) => boolean, what: string): void {
  if (r.status >= 500) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
  if (r.status >= 400) {
    let j: unknown;
    try {
      j = JSON.parse(r.text);
    } catch {
      throw new Error(`${what}: ${r.status} answer is not JSON: ${r.text.slice(0, 200)}`);
    }
    if (!shape(j)) throw new Error(`${what}: ${r.status} answer not in the protocol's error shape: ${r.text.slice(0, 200)}`);
  }
}

describe('fuzzing every REST protocol (fast-check, seed 16)', () => {
  test('Seldon: predictions, transform-input and feedback never answer 5xx', async () => {
    const path = fc.constantFrom('/api/v1.0/predictions', '/transform-input', '/api/v1.0/feedback', '/aggregate');
    const feedbackish = fc.record({ request: seldonMessage, response: seldonMessage, reward: fc.oneof(fc.double(), anyJson), truth: seldonMessage }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(path, fc.oneof(body(seldonMessage), body(feedbackish)), async (p, b) => {
        check(await send(p, b), isSeldonError, `POST ${p} ${b.slice(0, 200)}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('V2: infer never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(body(v2Request), async (b) => {
        check(await send('/v2/models/iris/infer', b), isV2Error, `V2 ${b.slice(0, 200)}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('KServe V1: predict never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(body(v1Request), async (b) => {
        check(await send('/v1/models/iris:predict', b), isV2Error, `V1 ${b.slice(0, 200)}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('the server is still up and answers correctly', async () => {
    const r = await send('/api/v1.0/predictions', JSON.stringify({ data: { ndarray: [IRIS_ROWS[0]] } }));
    assert.equal(r.status, 200, r.text);
    assert.equal(server.proc.exitCode, null);
  });
});
