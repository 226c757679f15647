// storage-init against a real S3-compatible server: s3rver (npm) on loopback, plus a loopback proxy that fails
// chosen requests. Nothing here reaches a non-loopback address.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchModel, StorageError } from '@modelfleet/storage-init';
import { tarball, zipball, renameInZip } from './helpers/archives.js';
import { startFlakyProxy, type LoopbackServer } from './helpers/faults.js';
import { S3RVER_KEY, S3RVER_SECRET, startS3, type S3Fixture } from './helpers/s3.js';
import { bytes, logSink, readTree, sha256, tempDir } from './helpers/tree.js';
import { REPO, runToExit } from './helpers/server.js';
import net from 'node:net';

const CLI_STORAGE = `${REPO}storage-init/dist/cli.js`;

const MiB = 1024 * 1024;

describe('storage-init s3:// (s3rver)', () => {
  let s3: S3Fixture;
  let tmp: { dir: string; remove: () => Promise<void> };
  let n = 0;
  const dest = () => path.join(tmp.dir, `d${n++}`);
  const nested: Record<string, string> = {
    'model.joblib': 'joblib bytes',
    'meta/settings.json': '{"a":1}',
    'deep/a/b/c/weights.bin': 'w'.repeat(5000),
  };
  const big = bytes(100 * MiB, 7);

  // Credentials as a KServe S3 secret carries them.
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    HOME: tmp.dir,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_KEY,
    AWS_SECRET_ACCESS_KEY: S3RVER_SECRET,
    AWS_DEFAULT_REGION: 'us-east-1',
    ...extra,
  });

  before(async () => {
    tmp = await tempDir('s3');
    s3 = await startS3(['models', 'public']);
    for (const [k, v] of Object.entries(nested)) await s3.put('models', `sklearn/iris/${k}`, v);
    await s3.put('models', 'sklearn/iris2/other.txt', 'a sibling prefix, not part of iris');
    await s3.put('models', 'single/model.bst', 'one object');
    await s3.put('models', 'arch/model.tar.gz', tarball([{ path: 'm/', type: 'Directory' }, { path: 'm/model.joblib', body: 'from tar' }, { path: 'README', body: 'r' }]));
    await s3.put('models', 'arch/model.zip', await zipball({ 'model.json': '{"from":"zip"}', 'sub/x.txt': 'x' }));
    await s3.put('models', 'evil/model.tar.gz', tarball([{ path: 'ok.txt', body: 'fine' }, { path: '../escaped.txt', body: 'should never land' }]));
    await s3.put('models', 'evil-abs/model.tar', tarball([{ path: '/tmp/mf-absolute-escape.txt', body: 'no' }], false));
    await s3.put('models', 'evil-link/model.tgz', tarball([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'link/passwd', body: 'x' }]));
    await s3.put('models', 'evil-zip/model.zip', renameInZip(await zipball({ 'ok.txt': 'fine', 'aa/evil.txt': 'no' }), 'aa/evil.txt', '../evil.txt'));
    await s3.put('models', 'big/weights.bin', big);
    await s3.put('public', 'iris/model.joblib', 'public model');
    await s3.put('models', 'conflict/m/a', 'a file');
    await s3.put('models', 'conflict/m/a/b', 'a file under a folder of the same name');
  });
  after(async () => {
    await s3?.close();
    await tmp?.remove();
  });

  it('copies a nested prefix to the same relative paths, leaving sibling prefixes out', async () => {
    const d = dest();
    const out = await fetchModel('s3://models/sklearn/iris', { dest: d, env: env() });
    assert.equal(out, d);
    const tree = await readTree(d);
    assert.deepEqual(Object.keys(tree).sort(), Object.keys(nested).sort());
    for (const [k, v] of Object.entries(nested)) assert.equal(tree[k].toString(), v);
    // Nothing of the staging folder is left behind.
    assert.deepEqual((await readdir(d)).filter((f) => f.startsWith('.storage-init')), []);
  });

  it('fetches a single object as one file named after its key', async () => {
    const d = dest();
    await fetchModel('s3://models/single/model.bst', { dest: d, env: env() });
    assert.deepEqual(Object.keys(await readTree(d)), ['model.bst']);
  });

  it('fetches many files (more than one list page) with bounded parallelism', async () => {
    const count = 1050; // s3rver, like S3, returns at most 1000 keys a page
    const keys = Array.from({ length: count }, (_, i) => `many/f${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => s3.put('models', k, k)));
    const d = dest();
    await fetchModel('s3://models/many', { dest: d, env: env({ STORAGE_INIT_CONCURRENCY: '8' }) });
    const tree = await readTree(d);
    assert.equal(Object.keys(tree).length, count);
    assert.equal(tree['f1049.txt'].toString(), 'many/f1049.txt');
  });

  it('downloads a 100 MiB object whole, with progress in the log', async (t) => {
    const d = dest();
    const { log, lines } = logSink();
    const started = process.hrtime.bigint();
    await fetchModel('s3://models/big/weights.bin', { dest: d, env: env(), log });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const got = (await readTree(d))['weights.bin'];
    assert.equal(got.length, big.length);
    assert.equal(sha256(got), sha256(big));
    assert.ok(lines.some((l) => /100\.0 MiB/.test(l)), lines.join('\n'));
    t.diagnostic(`s3rver 100 MiB: ${seconds.toFixed(2)} s, ${(100 / seconds).toFixed(1)} MiB/s`);
  });

  it('unpacks a .tar.gz and a .zip object and drops the archive', async () => {
    const d1 = dest();
    await fetchModel('s3://models/arch/model.tar.gz', { dest: d1, env: env() });
    const t1 = await readTree(d1);
    assert.deepEqual(Object.keys(t1).sort(), ['README', 'm/model.joblib']);
    assert.equal(t1['m/model.joblib'].toString(), 'from tar');
    const d2 = dest();
    await fetchModel('s3://models/arch/model.zip', { dest: d2, env: env() });
    const t2 = await readTree(d2);
    assert.deepEqual(Object.keys(t2).sort(), ['model.json', 'sub/x.txt']);
  });

  for (const [name, uri, pattern] of [
    ['a ../ entry in a tar.gz', 's3://models/evil/model.tar.gz', /escape the destination: \.\.\/escaped\.txt/],
    ['an absolute entry in a tar', 's3://models/evil-abs/model.tar', /escape the destination: \/tmp\/mf-absolute-escape\.txt/],
    ['a symlink entry in a tgz', 's3://models/evil-link/model.tgz', /link/],
    ['a ../ entry in a zip', 's3://models/evil-zip/model.zip', /\.\.\/evil\.txt/],
  ] as const) {
    it(`refuses an archive with ${name}, leaving the destination empty`, async () => {
      const d = dest();
      await assert.rejects(fetchModel(uri, { dest: d, env: env() }), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.match(err.message, pattern);
        assert.ok(err.message.includes(uri), err.message);
        return true;
      });
      assert.deepEqual(await readdir(d), []);
      assert.equal(existsSync(path.join(path.dirname(d), 'escaped.txt')), false);
      assert.equal(existsSync(path.join(path.dirname(d), 'evil.txt')), false);
      assert.equal(existsSync('/tmp/mf-absolute-escape.txt'), false);
    });
  }

  it('names the bucket when it does not exist', async () => {
    await assert.rejects(fetchModel('s3://no-such-bucket/m', { dest: dest(), env: env() }), (err: Error) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /^s3:\/\/no-such-bucket\/m: bucket "no-such-bucket" does not exist at endpoint http:\/\/127\.0\.0\.1:\d+$/);
      return true;
    });
  });

  it('names the object when nothing is at the key or under it', async () => {
    await assert.rejects(fetchModel('s3://models/sklearn/nothing', { dest: dest(), env: env() }), (err: Error) => {
      assert.match(err.message, /no object "sklearn\/nothing" and nothing under "sklearn\/nothing\/" in bucket "models"/);
      return true;
    });
  });

  // s3rver checks that the access key ID exists (InvalidAccessKeyId) but does not verify V4 signatures, so a
  // wrong secret with a known key ID is accepted there; an unknown key ID is what it really rejects.
  it('names the credential variable when the access key is rejected', async () => {
    await assert.rejects(fetchModel('s3://models/sklearn/iris', { dest: dest(), env: env({ AWS_ACCESS_KEY_ID: 'WRONGKEY' }) }), (err: Error) => {
      assert.match(err.message, /does not know the access key ID "WRONGKEY" from AWS_ACCESS_KEY_ID \(bucket "models"\)/);
      return true;
    });
    const rclone = { RCLONE_CONFIG_S3_TYPE: 's3', RCLONE_CONFIG_S3_ENDPOINT: s3.endpoint, RCLONE_CONFIG_S3_ACCESS_KEY_ID: 'NOPE', RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'x' };
    await assert.rejects(fetchModel('s3://models/sklearn/iris', { dest: dest(), env: { HOME: tmp.dir, ...rclone } }), /"NOPE" from RCLONE_CONFIG_S3_ACCESS_KEY_ID/);
  });

  it('says which variable is missing when only half a key pair is set', async () => {
    await assert.rejects(
      fetchModel('s3://models/sklearn/iris', { dest: dest(), env: env({ AWS_SECRET_ACCESS_KEY: undefined }) }),
      /AWS_ACCESS_KEY_ID is set but no secret access key is \(set AWS_SECRET_ACCESS_KEY\)/,
    );
  });

  it('reads a Seldon rclone secret (RCLONE_CONFIG_S3_*) and a custom rclone remote name', async () => {
    const rclone = (remote: string) => ({
      HOME: tmp.dir,
      [`RCLONE_CONFIG_${remote}_TYPE`]: 's3',
      [`RCLONE_CONFIG_${remote}_PROVIDER`]: 'minio',
      [`RCLONE_CONFIG_${remote}_ENV_AUTH`]: 'false',
      [`RCLONE_CONFIG_${remote}_ACCESS_KEY_ID`]: S3RVER_KEY,
      [`RCLONE_CONFIG_${remote}_SECRET_ACCESS_KEY`]: S3RVER_SECRET,
      [`RCLONE_CONFIG_${remote}_ENDPOINT`]: s3.endpoint,
    });
    const d1 = dest();
    await fetchModel('s3://models/sklearn/iris', { dest: d1, env: rclone('S3') });
    assert.equal(Object.keys(await readTree(d1)).length, 3);
    const d2 = dest();
    await fetchModel('minio://models/sklearn/iris', { dest: d2, env: rclone('MINIO') });
    assert.equal(Object.keys(await readTree(d2)).length, 3);
  });

  describe('through a loopback proxy', () => {
    let proxy: LoopbackServer;
    before(async () => {
      proxy = await startFlakyProxy(s3.endpoint);
    });
    after(async () => proxy?.close());

    it('KServe variables: S3_ENDPOINT host:port with S3_USE_HTTPS=0', async () => {
      const d = dest();
      const host = proxy.url.replace('http://', '');
      await fetchModel('s3://models/single/model.bst', { dest: d, env: env({ AWS_ENDPOINT_URL: undefined, S3_ENDPOINT: host, S3_USE_HTTPS: '0', S3_VERIFY_SSL: '0' }) });
      assert.equal((await readTree(d))['model.bst'].toString(), 'one object');
    });

    it('sends unsigned requests with awsAnonymousCredential=true (public bucket)', async () => {
      const d = dest();
      const from = proxy.requests.length;
      await fetchModel('s3://public/iris', { dest: d, env: { HOME: tmp.dir, AWS_ENDPOINT_URL: proxy.url, awsAnonymousCredential: 'true' } });
      assert.equal((await readTree(d))['model.joblib'].toString(), 'public model');
      const sent = proxy.requests.slice(from);
      assert.ok(sent.length >= 1);
      assert.ok(sent.every((r) => r.authorization === undefined), 'no request may be signed');
    });

    it('retries a request the server fails once with 503', async () => {
      const d = dest();
      const from = proxy.requests.length;
      const isGet = (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/models/sklearn/iris/deep/a/b/c/weights.bin';
      proxy.faults.push({ kind: 503, times: 1, match: isGet });
      await fetchModel('s3://models/sklearn/iris', { dest: d, env: env({ AWS_ENDPOINT_URL: proxy.url }) });
      assert.equal((await readTree(d))['deep/a/b/c/weights.bin'].toString(), nested['deep/a/b/c/weights.bin']);
      const gets = proxy.requests.slice(from).filter(isGet);
      assert.deepEqual(gets.map((r) => r.failed), [503, undefined]);
    });

    it('a download cut short on every try is reported as such, naming the object and the bytes received', async () => {
      const isGet = (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/models/big/weights.bin';
      const fault = { kind: 'truncate' as const, times: 100, match: isGet };
      proxy.faults.push(fault);
      try {
        await assert.rejects(
          fetchModel('s3://models/big/weights.bin', { dest: dest(), env: env({ AWS_ENDPOINT_URL: proxy.url }) }),
          (err: Error) => {
            assert.ok(err instanceof StorageError);
            assert.match(err.message, /object "big\/weights\.bin" was cut short on every try: received \d+ of the 104857600 bytes listed/);
            assert.doesNotMatch(err.message, /cannot reach/);
            return true;
          },
        );
      } finally {
        fault.times = 0;
      }
    });

    it('retries a download cut off half-way, and the size check catches the short file', async () => {
      const d = dest();
      const from = proxy.requests.length;
      const isGet = (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/models/big/weights.bin';
      proxy.faults.push({ kind: 'truncate', times: 1, match: isGet });
      const { log, lines } = logSink();
      await fetchModel('s3://models/big/weights.bin', { dest: d, env: env({ AWS_ENDPOINT_URL: proxy.url }), log });
      assert.equal(sha256((await readTree(d))['weights.bin']), sha256(big));
      assert.deepEqual(proxy.requests.slice(from).filter(isGet).map((r) => r.failed), ['truncate', undefined]);
      assert.ok(lines.some((l) => /retry 1\/3/.test(l)), lines.join('\n'));
    });
  });

  it('keys m/a and m/a/b are a named conflict, not EISDIR', async () => {
    await assert.rejects(fetchModel('s3://models/conflict/m', { dest: dest(), env: env() }), /keys "conflict\/m\/a" and "conflict\/m\/a\/b" conflict/);
  });

  describe('an endpoint that accepts connections and never answers (issue 16 item 13)', () => {
    let hole: net.Server;
    let url: string;
    const sockets: net.Socket[] = [];
    before(async () => {
      hole = net.createServer((s) => {
        sockets.push(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`;
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hole.close(r));
    });

    it('times out (S3_READ_TIMEOUT) through the retries and names the endpoint', async () => {
      await assert.rejects(
        fetchModel('s3://models/sklearn/iris', { dest: dest(), env: env({ AWS_ENDPOINT_URL: url, S3_READ_TIMEOUT: '1', S3_MAX_ATTEMPTS: '1' }) }),
        new RegExp(`endpoint ${url.replace(/\./g, '\\.')} accepted the connection but did not answer within 1 s`),
      );
    });

    it('the overall deadline (STORAGE_INIT_DEADLINE_SECONDS) stops the CLI with a non-zero exit naming the endpoint', async () => {
      const started = Date.now();
      const { code, output } = await runToExit(
        [CLI_STORAGE, 's3://models/sklearn/iris', dest()],
        { ...env({ AWS_ENDPOINT_URL: url, STORAGE_INIT_DEADLINE_SECONDS: '3' }) } as Record<string, string>,
        120_000,
      );
      assert.equal(code, 1, output);
      assert.match(output, /gave up after 3 s \(STORAGE_INIT_DEADLINE_SECONDS\)/);
      assert.match(output, new RegExp(`endpoint ${url.replace(/\./g, '\\.')}`));
      assert.ok(Date.now() - started < 60_000, 'it stopped at the deadline, not after the default timeouts');
    });
  });

  it('caches by URI without dest and reuses the complete copy on a second start', async () => {
    const cache = path.join(tmp.dir, 'cache');
    const first = await fetchModel('s3://models/sklearn/iris', { env: env({ MODELFLEET_CACHE_DIR: cache }) });
    assert.equal(path.dirname(first), cache);
    assert.match(path.basename(first), /^[0-9a-f]{16}$/);
    assert.equal(Object.keys(await readTree(first)).length, 3);
    // The second start cannot reach any server (the endpoint is a closed port): only the cache can answer.
    const { log, lines } = logSink();
    const second = await fetchModel('s3://models/sklearn/iris', { env: env({ MODELFLEET_CACHE_DIR: cache, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }), log });
    assert.equal(second, first);
    assert.ok(lines.some((l) => /reusing complete copy/.test(l)));
    // Without the completion marker the copy is not trusted: the closed endpoint then fails.
    const { rm } = await import('node:fs/promises');
    await rm(path.join(first, '.modelfleet-complete.json'));
    await assert.rejects(fetchModel('s3://models/sklearn/iris', { env: env({ MODELFLEET_CACHE_DIR: cache, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', S3_MAX_ATTEMPTS: '1' }) }), /cannot reach endpoint http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });
});
