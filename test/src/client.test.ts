// The client library (@modelfleet/client) against real servers over real sockets: Seldon, V2 and KServe V1, each
// over REST and gRPC where the protocol has it, answers compared with scikit-learn's own; payload forms through a
// Python class that echoes what it gets; a `modelfleet run` graph through ingress paths; and the transport options
// (retries on 503, bearer token, keep-alive, deadline, TLS) against small Node servers that count what arrives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '@modelfleet/shared/grpc/protos';
import { ClientError, ModelClient, seldonData, seldonTensor, type SeldonPayload } from '@modelfleet/client';
import { rejects } from './helpers/client-errors.js';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { CLI, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

let models: TrainedModels;
let iris: ServerProcess;
let echo: ServerProcess;
let graph: ServerProcess;
const clients: ModelClient[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-client-'));

const ECHO = `
class Echo:
    """Answers what it is sent: str -> strData, bytes -> binData, dict -> jsonData, arrays -> data."""
    def predict(self, X, names, meta=None):
        return X

    def tags(self):
        return {"echo": True}
`;

before(async () => {
  models = await sklearnModels();
  writeFileSync(path.join(dir, 'Echo.py'), ECHO);
  writeFileSync(
    path.join(dir, 'sdep.yaml'),
    `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: irisdep}
spec:
  predictors:
  - name: main
    graph: {name: iris, implementation: SKLEARN_SERVER, modelUri: ${models.paths.iris}}
`,
  );
  [iris, echo, graph] = await Promise.all([
    serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris']),
    serveCli(['Echo', '--model-dir', dir, '--workers', '1']),
    spawnServer([CLI, 'run', path.join(dir, 'sdep.yaml'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']),
  ]);
  await Promise.all([waitReady(iris), waitReady(echo), waitReady(graph, 120_000)]);
});
after(async () => {
  for (const c of clients) c.close();
  for (const s of [iris, echo, graph]) if (s) assert.equal(await s.stop(), 0, s.logs());
});

function client(server: ServerProcess, transport: 'rest' | 'grpc', extra: Partial<ConstructorParameters<typeof ModelClient>[0]> = {}): ModelClient {
  const c = new ModelClient({ url: server.url, grpc: server.grpcTarget, transport, ...extra });
  clients.push(c);
  return c;
}

const proba = () => models.expected.iris.predict_proba as number[][];

for (const transport of ['rest', 'grpc'] as const) {
  describe(`Seldon protocol over ${transport}`, () => {
    test('predict in each data form equals scikit-learn; meta.tags and puid come back', async () => {
      const c = client(iris, transport);
      for (const payload of ['ndarray', 'tensor', 'tftensor'] as SeldonPayload[]) {
        const r = await c.seldon.predict(seldonData(IRIS_ROWS, { payload, meta: { tags: { run: payload }, puid: `p-${payload}` } }));
        assert.ok(r.data?.[payload], `${payload} answered as ${JSON.stringify(r).slice(0, 200)}`);
        const t = seldonTensor(r);
        assert.deepEqual(t.shape, [4, 3]);
        assertClose(Array.from(t.data as Float64Array), proba().flat());
        assert.deepEqual(r.meta?.tags, { run: payload });
        assert.equal(r.meta?.puid, `p-${payload}`);
      }
      assert.deepEqual((await c.seldon.predict(seldonData(IRIS_ROWS))).data?.names, ['t:0', 't:1', 't:2']);
    });

    test('strData, binData and jsonData travel both ways (through a class that answers what it gets)', async () => {
      const c = client(echo, transport);
      const s = await c.seldon.predict({ strData: 'hello, model', meta: { tags: { a: 1 } } });
      assert.equal(s.strData, 'hello, model');
      assert.deepEqual(s.meta?.tags, { a: 1, echo: true });
      const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
      const b = await c.seldon.predict({ binData: bytes });
      assert.deepEqual(Buffer.from(b.binData as string, 'base64'), Buffer.from(bytes));
      const j = await c.seldon.predict({ jsonData: { x: [1, 2], y: 'z', n: null } });
      assert.deepEqual(j.jsonData, { x: [1, 2], y: 'z', n: null });
      const strings = await c.seldon.predict(seldonData([['a', 'b']]));
      assert.deepEqual(strings.data?.ndarray, [['a', 'b']]);
    });

    test('feedback and metadata', async () => {
      const c = client(iris, transport);
      const request = seldonData([IRIS_ROWS[0]]);
      const response = await c.seldon.predict(request);
      const fb = await c.seldon.feedback({ request, response, reward: 1 });
      assert.deepEqual(fb.data?.ndarray, []); // as Seldon's prepackaged servers answer feedback
      const md = await c.seldon.metadata();
      assert.equal(md.name, 'iris');
      assert.equal(md.platform, 'sklearn');
      assert.deepEqual(md.inputs[0].shape, [-1, 4]);
    });

    test("errors carry the server's message and body", async () => {
      const c = client(iris, transport);
      const e = await rejects(c.seldon.predict(seldonData([[1, 2, 3]])));
      assert.match(e.message, /expected 4 features per row, got 3/);
      if (transport === 'rest') {
        assert.equal(e.status, 400);
        assert.deepEqual((e.body as any).status.reason, 'MICROSERVICE_BAD_DATA');
      } else {
        assert.equal(e.grpcCode, 'INVALID_ARGUMENT');
        assert.match(String(e.body), /expected 4 features per row, got 3/);
      }
    });
  });

  describe(`V2 over ${transport}`, () => {
    for (const binary of transport === 'rest' ? [false, true] : [false]) {
      test(`infer${binary ? ' with the binary extension' : ''}: typed arrays in and out equal scikit-learn`, async () => {
        const c = client(iris, transport);
        const r = await c.v2.infer('iris', {
          inputs: [{ name: 'input-0', data: Float64Array.from(IRIS_ROWS.flat()), shape: [4, 4] }],
          outputs: ['predict_proba', 'predict'],
          binary,
        });
        assert.equal(r.model_name, 'iris');
        const [p, labels] = r.outputs;
        assert.equal(p.name, 'predict_proba');
        assert.ok(p.data instanceof Float64Array);
        assert.deepEqual(p.shape, [4, 3]);
        assertClose(Array.from(p.data), proba().flat());
        assert.equal(labels.datatype, 'INT64');
        assert.ok(labels.data instanceof BigInt64Array);
        assert.deepEqual(Array.from(labels.data, Number), models.expected.iris.predict);
        // FP32 in: the server computes on the float32 values, as scikit-learn does on a float32 array.
        const f32 = await c.v2.infer('iris', { inputs: [{ name: 'x', data: Float32Array.from(IRIS_ROWS.flat()), shape: [4, 4] }], outputs: ['predict_proba'], binary });
        assertClose(Array.from(f32.outputs[0].data as Float64Array), (models.expected.iris.predict_proba_f32 as number[][]).flat(), 1e-6);
        // nested arrays in, every default output back
        const nested = await c.v2.infer('iris', { inputs: [{ name: 'x', data: IRIS_ROWS }], binary });
        assert.deepEqual(Array.from(nested.outputs[0].data as BigInt64Array, Number), models.expected.iris.predict);
      });
    }

    test('metadata, liveness and readiness', async () => {
      const c = client(iris, transport);
      const md = await c.v2.modelMetadata('iris');
      assert.equal(md.name, 'iris');
      assert.deepEqual(md.inputs[0].shape, [-1, 4]);
      assert.deepEqual(md.outputs.map((o) => o.name), ['predict', 'predict_proba', 'decision_function']);
      assert.equal((await c.v2.serverMetadata()).name, 'modelfleet');
      assert.equal(await c.v2.serverLive(), true);
      assert.equal(await c.v2.serverReady(), true);
      assert.equal(await c.v2.modelReady('iris'), true);
    });

    test("an unknown model is the server's 404 / NOT_FOUND with its message", async () => {
      const c = client(iris, transport);
      const e = await rejects(c.v2.infer('nope', { inputs: [{ name: 'x', data: IRIS_ROWS }] }));
      assert.match(e.message, /Model nope not found; this server serves iris/);
      if (transport === 'rest') assert.deepEqual([e.status, (e.body as any).error], [404, 'Model nope not found; this server serves iris']);
      else assert.equal(e.grpcCode, 'NOT_FOUND');
    });
  });
}

describe('KServe V1 (REST)', () => {
  test(':predict with instances or inputs equals scikit-learn; readiness and model list', async () => {
    const c = client(iris, 'rest');
    assert.deepEqual((await c.kserve.predict('iris', { instances: IRIS_ROWS })).predictions, models.expected.iris.predict);
    assert.deepEqual((await c.kserve.predict('iris', { inputs: IRIS_ROWS })).predictions, models.expected.iris.predict);
    assert.equal(await c.kserve.ready('iris'), true);
    assert.deepEqual(await c.kserve.models(), ['iris']);
  });

  test("bad input surfaces the server's answer", async () => {
    const c = client(iris, 'rest');
    const bad = await rejects(c.kserve.predict('iris', { instances: 'x' }));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /instances/);
    assert.ok(bad.body && typeof bad.body === 'object' && 'error' in bad.body);
  });

  test('over gRPC it is refused before any call: KServe V1 has no gRPC API', async () => {
    const c = client(iris, 'grpc', { url: undefined });
    await assert.rejects(() => c.kserve.predict('iris', { instances: IRIS_ROWS }), /KServe V1 is a REST protocol/);
  });
});

describe('a `modelfleet run` graph, directly and through ingress paths', () => {
  for (const transport of ['rest', 'grpc'] as const) {
    test(`predict and feedback over ${transport} at /seldon/<namespace>/<deployment>`, async () => {
      const c = client(graph, transport, { deployment: 'irisdep', namespace: 'prod' });
      const request = seldonData(IRIS_ROWS);
      const r = await c.seldon.predict(request);
      assertClose(r.data?.ndarray, proba());
      assert.ok(r.meta?.puid, 'the graph adds a puid');
      assert.deepEqual(Object.keys(r.meta?.requestPath ?? {}), ['iris']);
      const fb = await c.seldon.feedback({ request, response: r, reward: 1 });
      assert.ok(fb.meta !== undefined);
      const direct = client(graph, transport);
      assertClose((await direct.seldon.predict(request)).data?.ndarray, proba());
    });
  }

  test('graph metadata (REST /api/v1.0/metadata on the graph)', async () => {
    // gRPC Seldon/GraphMetadata is not served by `modelfleet run` yet (it answers UNIMPLEMENTED); REST is.
    const r = await client(graph, 'rest').seldon.graphMetadata();
    assert.equal(r.name, 'irisdep');
    assert.ok(r.models?.iris, JSON.stringify(r));
  });

  test('a wrong ingress path is the server\'s 404, not a silent success', async () => {
    const c = client(iris, 'rest', { deployment: 'irisdep', namespace: 'prod' });
    const e = await rejects(c.v2.modelMetadata('iris'));
    assert.equal(e.status, 404);
  });
});

/** A Node server on loopback that records every request and answers with `reply`. */
async function recorder(reply: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void, tls?: { key: Buffer; cert: Buffer }) {
  const seen: Array<{ headers: http.IncomingHttpHeaders; url: string; socket: number }> = [];
  let sockets = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ headers: req.headers, url: req.url ?? '', socket: (req.socket as any).__id });
    req.resume();
    req.on('end', () => reply(req, res, seen.length));
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.on(tls ? 'secureConnection' : 'connection', (s) => ((s as any).__id = ++sockets));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    seen,
    port,
    sockets: () => sockets,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const seldonOk = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"names":[],"ndarray":[1]},"meta":{}}');

describe('transport options', () => {
  test('retries a 503 with backoff, then answers; with retries 0 the 503 and its body come back', async () => {
    const r = await recorder((_req, res, n) => (n <= 2 ? res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"model loading"}') : seldonOk(res)));
    try {
      const c = new ModelClient({ url: `http://127.0.0.1:${r.port}`, retries: 3, backoffMs: 20 });
      clients.push(c);
      assert.deepEqual((await c.seldon.predict(seldonData([[1]]))).data?.ndarray, [1]);
      assert.equal(r.seen.length, 3);
      const none = new ModelClient({ url: `http://127.0.0.1:${r.port}`, retries: 0 });
      clients.push(none);
      r.seen.length = 0;
      const e = await rejects(none.seldon.predict(seldonData([[1]])));
      assert.equal(e.status, 503);
      assert.deepEqual(e.body, { error: 'model loading' });
      assert.match(e.message, /answered 503: model loading/);
    } finally {
      await r.close();
    }
  });

  test('bearer token, extra headers and ingress path on every call; keep-alive reuses one connection', async () => {
    const r = await recorder((_req, res) => seldonOk(res));
    try {
      const c = new ModelClient({ url: `http://127.0.0.1:${r.port}`, token: 's3cret', headers: { 'x-team': 'ml' }, deployment: 'd1', namespace: 'ns1' });
      clients.push(c);
      for (let i = 0; i < 3; i++) await c.seldon.predict(seldonData([[1]]));
      assert.deepEqual(r.seen.map((s) => s.url), Array(3).fill('/seldon/ns1/d1/api/v1.0/predictions'));
      assert.equal(r.seen[0].headers.authorization, 'Bearer s3cret');
      assert.equal(r.seen[0].headers['x-team'], 'ml');
      assert.equal(r.sockets(), 1, 'keep-alive: one connection for three calls');
      const fresh = new ModelClient({ url: `http://127.0.0.1:${r.port}`, keepAlive: false });
      clients.push(fresh);
      for (let i = 0; i < 2; i++) await fresh.seldon.predict(seldonData([[1]]));
      assert.equal(r.sockets(), 3, 'no keep-alive: a connection per call');
    } finally {
      await r.close();
    }
  });

  test('a server that never answers fails at the deadline instead of hanging', async () => {
    const r = await recorder(() => undefined);
    try {
      const c = new ModelClient({ url: `http://127.0.0.1:${r.port}`, timeoutMs: 300, retries: 0 });
      clients.push(c);
      const e = await rejects(c.seldon.predict(seldonData([[1]])));
      assert.match(e.message, /no answer in 300 ms/);
    } finally {
      await r.close();
    }
  });

  test('gRPC over TLS carries the token, headers and ingress metadata', async () => {
    // A grpc-js server on our .proto with a throw-away certificate, recording the metadata of each call.
    const tlsDir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', path.join(tlsDir, 'key.pem'), '-out', path.join(tlsDir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(path.join(tlsDir, 'cert.pem'));
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(['prediction.proto'], PROTO_OPTIONS)) as any;
    const seen: grpc.Metadata[] = [];
    const server = new grpc.Server();
    server.addService(pkg.seldon.protos.Seldon.service, {
      Predict: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
        seen.push(call.metadata);
        cb(null, { strData: `got ${call.request.data.data_oneof}` });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(path.join(tlsDir, 'key.pem')), cert_chain: cert }]), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const c = new ModelClient({ grpc: `127.0.0.1:${port}`, tls: { ca: cert }, token: 't0k', headers: { 'X-Team': 'ml' }, deployment: 'd1', namespace: 'ns1' });
      clients.push(c);
      assert.equal((await c.seldon.predict(seldonData([[1]]))).strData, 'got ndarray');
      const md = seen[0];
      assert.deepEqual([md.get('authorization'), md.get('x-team'), md.get('seldon'), md.get('namespace')], [['Bearer t0k'], ['ml'], ['d1'], ['ns1']]);
      const plain = new ModelClient({ grpc: `127.0.0.1:${port}`, retries: 0, timeoutMs: 5000 });
      clients.push(plain);
      const e = await rejects(plain.seldon.predict(seldonData([[1]])));
      assert.equal(e.grpcCode, 'UNAVAILABLE');
    } finally {
      server.forceShutdown();
    }
  });

  test('TLS: the given CA verifies the server; without it the certificate is refused; --insecure skips the check', async () => {
    const tlsDir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', path.join(tlsDir, 'key.pem'), '-out', path.join(tlsDir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(path.join(tlsDir, 'cert.pem'));
    const r = await recorder((_req, res) => seldonOk(res), { key: readFileSync(path.join(tlsDir, 'key.pem')), cert });
    try {
      const url = `https://127.0.0.1:${r.port}`;
      const trusted = new ModelClient({ url, tls: { ca: path.join(tlsDir, 'cert.pem') } });
      const untrusted = new ModelClient({ url, retries: 0 });
      const insecure = new ModelClient({ url, tls: { rejectUnauthorized: false } });
      clients.push(trusted, untrusted, insecure);
      assert.deepEqual((await trusted.seldon.predict(seldonData([[1]]))).data?.ndarray, [1]);
      const e = await rejects(untrusted.seldon.predict(seldonData([[1]])));
      assert.match(e.message, /self[- ]signed certificate/i);
      assert.deepEqual((await insecure.seldon.predict(seldonData([[1]]))).data?.ndarray, [1]);
    } finally {
      await r.close();
    }
  });

  test('gRPC: UNAVAILABLE is retried, then reported', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = new ModelClient({ grpc: `127.0.0.1:${port}`, retries: 2, backoffMs: 10, timeoutMs: 5000 });
    clients.push(c);
    const e = await rejects(c.seldon.predict(seldonData([[1]])));
    assert.equal(e.grpcCode, 'UNAVAILABLE');
  });
});
