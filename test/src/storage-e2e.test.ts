// End to end: servers started with MODEL_URI=s3://... (a real S3-compatible server, s3rver) fetch the model through
// storage-init and answer predictions; the storage-init CLI works as an init container would run it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose, IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { startS3, S3RVER_KEY, S3RVER_SECRET, type S3Fixture } from './helpers/s3.js';
import { postJson, REPO, runToExit, spawnServer, waitReady } from './helpers/server.js';

let s3: S3Fixture;
before(async () => {
  s3 = await startS3(['models']);
  const { paths } = await sklearnModels();
  await s3.put('models', 'sklearn/iris/model.joblib', readFileSync(path.join(paths.iris, 'model.joblib')));
  await s3.put('models', 'sklearn/iris/metadata.yaml', 'name: iris-from-s3\n');
});
after(async () => {
  await s3.close();
});

const s3Env = () => ({
  AWS_ACCESS_KEY_ID: S3RVER_KEY,
  AWS_SECRET_ACCESS_KEY: S3RVER_SECRET,
  AWS_ENDPOINT_URL: s3.endpoint,
  AWS_REGION: 'us-east-1',
  MODELFLEET_CACHE_DIR: mkdtempSync(path.join(os.tmpdir(), 'mf-cache-')),
});

test('SKLEARN_SERVER with MODEL_URI=s3://... answers predictions', async () => {
  const { expected } = await sklearnModels();
  const server = await spawnServer([`${REPO}servers/sklearn/dist/main.js`], { ...s3Env(), MODEL_URI: 's3://models/sklearn/iris' });
  try {
    await waitReady(server);
    const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: IRIS_ROWS } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assertClose(r.json.data.ndarray, expected.iris.predict_proba);
    const md = (await (await fetch(`${server.url}/metadata`)).json()) as any;
    assert.equal(md.name, 'iris-from-s3'); // metadata.yaml came down with the model
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('a missing object is a start-up failure naming the URI and the bucket', async () => {
  const { code, output } = await runToExit([`${REPO}servers/sklearn/dist/main.js`], {
    ...s3Env(),
    MODEL_URI: 's3://models/sklearn/nope',
    PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
    PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
    PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0',
  });
  assert.equal(code, 1, output);
  assert.match(output, /s3:\/\/models\/sklearn\/nope/);
  assert.match(output, /bucket "models"/);
});

test('the storage-init CLI copies a prefix into a destination folder, as an init container', async () => {
  const dest = path.join(mkdtempSync(path.join(os.tmpdir(), 'mf-init-')), 'mnt-models');
  const { code, output } = await runToExit([`${REPO}storage-init/dist/cli.js`, 's3://models/sklearn/iris', dest], s3Env());
  assert.equal(code, 0, output);
  assert.ok(existsSync(path.join(dest, 'model.joblib')));
  assert.equal(readFileSync(path.join(dest, 'metadata.yaml'), 'utf8'), 'name: iris-from-s3\n');
});
