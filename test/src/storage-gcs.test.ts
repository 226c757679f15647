// storage-init gs:// against a stand-in for Google Cloud Storage. No GCS emulator runs offline here
// (firebase-tools' emulator downloads a jar and needs Java 21; npm and Debian have no other), so
// helpers/fake-gcs.ts implements the GCS JSON API endpoints @google-cloud/storage uses to download (object
// list with prefix/pageToken, object metadata, alt=media) and the real client library talks to it over
// loopback through STORAGE_EMULATOR_HOST or an rclone endpoint. It is not Google's service: what GCS does
// beyond those endpoints (IAM, token exchange, CRC headers) is not covered here.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchModel, StorageError } from '@modelfleet/storage-init';
import { tarball } from './helpers/archives.js';
import { startFakeGcs, type FakeGcs } from './helpers/fake-gcs.js';
import { bytes, logSink, readTree, sha256, tempDir } from './helpers/tree.js';

const MiB = 1024 * 1024;

describe('storage-init gs:// (GCS JSON API stand-in)', () => {
  let gcs: FakeGcs;
  let priv: FakeGcs;
  let tmp: { dir: string; remove: () => Promise<void> };
  let n = 0;
  const dest = () => path.join(tmp.dir, `d${n++}`);
  const big = bytes(100 * MiB, 11);
  const files: Record<string, string> = { 'model.joblib': 'iris model', 'metadata.yaml': 'name: iris' };
  for (let i = 0; i < 40; i++) files[`shards/part-${String(i).padStart(2, '0')}/data.bin`] = `shard ${i}`;
  // A short idle timeout: a cut-off body the client library never reports is retried within seconds.
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: tmp.dir, STORAGE_EMULATOR_HOST: gcs.host, STORAGE_INIT_IDLE_TIMEOUT_SECONDS: '3', ...extra });

  before(async () => {
    tmp = await tempDir('gcs');
    // A small page size makes the client follow nextPageToken across several list pages.
    gcs = await startFakeGcs({ pageSize: 7 });
    for (const [k, v] of Object.entries(files)) gcs.put('seldon-models', `v1.19/sklearn/iris/${k}`, v);
    gcs.put('seldon-models', 'v1.19/sklearn/iris-other/model.joblib', 'sibling prefix');
    gcs.put('seldon-models', 'single/model.bst', 'one object');
    gcs.put('seldon-models', 'arch/model.tgz', tarball([{ path: 'model.joblib', body: 'from tgz' }, { path: 'sub/conf.json', body: '{}' }]));
    gcs.put('seldon-models', 'evil/model.tar.gz', tarball([{ path: '../../escaped.txt', body: 'no' }]));
    gcs.put('seldon-models', 'big/weights.bin', big);
    gcs.createBucket('empty');
    priv = await startFakeGcs({ bearer: 'a-token-we-never-have' });
    priv.put('private', 'm/model.joblib', 'secret');
  });
  after(async () => {
    await gcs?.close();
    await priv?.close();
    await tmp?.remove();
  });

  it('copies a nested prefix across list pages, leaving sibling prefixes out', async () => {
    const d = dest();
    const from = gcs.requests.length;
    await fetchModel('gs://seldon-models/v1.19/sklearn/iris', { dest: d, env: env() });
    const tree = await readTree(d);
    assert.deepEqual(Object.keys(tree).sort(), Object.keys(files).sort());
    for (const [k, v] of Object.entries(files)) assert.equal(tree[k].toString(), v);
    const lists = gcs.requests.slice(from).filter((r) => r.path.endsWith('/o'));
    assert.ok(lists.length >= 6, `expected several list pages, saw ${lists.length}`);
    assert.ok(lists.every((r) => r.query.get('prefix') === 'v1.19/sklearn/iris/'));
  });

  it('fetches a single object as one file', async () => {
    const d = dest();
    await fetchModel('gs://seldon-models/single/model.bst', { dest: d, env: env() });
    assert.deepEqual(await readTree(d), { 'model.bst': Buffer.from('one object') });
  });

  it('downloads a 100 MiB object whole', async (t) => {
    const d = dest();
    const { log, lines } = logSink();
    const started = process.hrtime.bigint();
    await fetchModel('gs://seldon-models/big/weights.bin', { dest: d, env: env(), log });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(sha256((await readTree(d))['weights.bin']), sha256(big));
    assert.ok(lines.some((l) => /fetched .*100\.0 MiB/.test(l)), lines.join('\n'));
    t.diagnostic(`fake GCS 100 MiB: ${seconds.toFixed(2)} s, ${(100 / seconds).toFixed(1)} MiB/s`);
  });

  it('unpacks a .tgz object', async () => {
    const d = dest();
    await fetchModel('gs://seldon-models/arch/model.tgz', { dest: d, env: env() });
    assert.deepEqual(Object.keys(await readTree(d)).sort(), ['model.joblib', 'sub/conf.json']);
  });

  it('refuses an archive with a ../ entry', async () => {
    const d = dest();
    await assert.rejects(fetchModel('gs://seldon-models/evil/model.tar.gz', { dest: d, env: env() }), /escape the destination: \.\.\/\.\.\/escaped\.txt/);
    assert.deepEqual(await readTree(d), {});
  });

  it('names a missing bucket and a missing object', async () => {
    await assert.rejects(fetchModel('gs://no-such-bucket/iris', { dest: dest(), env: env() }), (err: Error) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.message, `gs://no-such-bucket/iris: bucket "no-such-bucket" does not exist at ${gcs.host}`);
      return true;
    });
    await assert.rejects(fetchModel('gs://seldon-models/sklearn/nope', { dest: dest(), env: env() }), /no object "sklearn\/nope" and nothing under "sklearn\/nope\/" in bucket "seldon-models"/);
    await assert.rejects(fetchModel('gs://empty/', { dest: dest(), env: env() }), /nothing under "" in bucket "empty"/);
  });

  it('retries a list and a download that fail once with 503, and a download cut off half-way', async () => {
    const d = dest();
    const from = gcs.requests.length;
    const isMedia = (key: string) => (r: { path: string; query: URLSearchParams }) => r.query.get('alt') === 'media' && decodeURIComponent(r.path).endsWith(key);
    gcs.faults.push({ kind: 503, times: 1, match: (r) => r.path.endsWith('/o') });
    gcs.faults.push({ kind: 503, times: 1, match: isMedia('iris/model.joblib') });
    gcs.faults.push({ kind: 'truncate', times: 1, match: isMedia('iris/shards/part-07/data.bin') });
    await fetchModel('gs://seldon-models/v1.19/sklearn/iris', { dest: d, env: env() });
    const tree = await readTree(d);
    assert.equal(Object.keys(tree).length, Object.keys(files).length);
    assert.equal(tree['model.joblib'].toString(), files['model.joblib']);
    assert.equal(tree['shards/part-07/data.bin'].toString(), 'shard 7');
    const failed = gcs.requests.slice(from).filter((r) => r.failed).map((r) => r.failed);
    assert.deepEqual(failed.sort(), [503, 503, 'truncate']);
    assert.ok(gcs.faults.every((f) => f.times === 0));
  });

  it('reads anonymously with a Seldon rclone remote (RCLONE_CONFIG_GS_ANONYMOUS=true): no Authorization header', async () => {
    const d = dest();
    const from = gcs.requests.length;
    const rclone = { HOME: tmp.dir, RCLONE_CONFIG_GS_TYPE: 'google cloud storage', RCLONE_CONFIG_GS_ANONYMOUS: 'true', RCLONE_CONFIG_GS_ENDPOINT: gcs.host };
    await fetchModel('gs://seldon-models/single/model.bst', { dest: d, env: rclone });
    assert.equal((await readTree(d))['model.bst'].toString(), 'one object');
    const sent = gcs.requests.slice(from);
    assert.ok(sent.length >= 2 && sent.every((r) => r.authorization === undefined));
  });

  it('says which credential to set when a private bucket refuses an anonymous request', async () => {
    const rclone = { HOME: tmp.dir, RCLONE_CONFIG_GS_TYPE: 'google cloud storage', RCLONE_CONFIG_GS_ANONYMOUS: 'true', RCLONE_CONFIG_GS_ENDPOINT: priv.host };
    await assert.rejects(fetchModel('gs://private/m', { dest: dest(), env: rclone }), (err: Error) => {
      assert.match(err.message, /^gs:\/\/private\/m: access denied to an anonymous request for bucket "private" at http:\/\/127\.0\.0\.1:\d+: set RCLONE_CONFIG_GS_SERVICE_ACCOUNT_FILE or GOOGLE_APPLICATION_CREDENTIALS/);
      return true;
    });
  });

  it('names GOOGLE_APPLICATION_CREDENTIALS when its file cannot be read', async () => {
    await assert.rejects(
      fetchModel('gs://seldon-models/single/model.bst', { dest: dest(), env: env({ GOOGLE_APPLICATION_CREDENTIALS: path.join(tmp.dir, 'missing.json') }) }),
      /credentials file .*missing\.json from GOOGLE_APPLICATION_CREDENTIALS cannot be read/,
    );
  });
});
