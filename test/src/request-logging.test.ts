// Payload (request) logging: CloudEvents 1.0 binary mode with Seldon's Ce-* headers from a standalone server and
// from graph nodes' `logger`, Seldon-Skip-Logging, a dead or hanging sink never in the way of predictions (drops
// counted), retries, and the JSON Lines sink with rotation. No Knative broker or Seldon request logger runs here:
// events are received by a loopback server that decodes them with the official `cloudevents` SDK (strict).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { CLI, postJson, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';
import { startEventSink, type EventSink, type Received } from './helpers/event-sink.js';
import { Registry } from 'prom-client';
import { CloudEventsSink } from '@modelfleet/shared/logging/cloudevents-sink';
import { LoggerMetrics } from '@modelfleet/shared/logging/sink';
import { createLogger } from '@modelfleet/shared/logger';

const ce = (r: Received, name: string) => r.headers[`ce-${name}`];
const ofRequest = (puid: string) => (rs: Received[]) => rs.filter((r) => ce(r, 'requestid') === puid);

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

let models: TrainedModels;
before(async () => {
  models = await sklearnModels();
});

describe('standalone server to a CloudEvents sink', () => {
  let sink: EventSink;
  let server: ServerProcess;
  before(async () => {
    sink = await startEventSink();
    server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], {
      MODELFLEET_LOGGER_URL: sink.url,
      SELDON_DEPLOYMENT_ID: 'iris-sdep',
      PREDICTOR_ID: 'default',
      POD_NAMESPACE: 'models',
    });
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
    await sink.close();
  });

  test('a Seldon prediction gives a request and a response event paired by the caller\'s puid, bodies as sent and answered', async () => {
    const body = JSON.stringify({ data: { ndarray: [IRIS_ROWS[0]] } });
    const r = await postJson(`${server.url}/api/v1.0/predictions`, body, { 'seldon-puid': 'puid-1' });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[0]]);
    const events = ofRequest('puid-1')(await sink.waitFor((rs) => ofRequest('puid-1')(rs).length === 2));
    const req = events.find((e) => ce(e, 'type') === 'io.seldon.serving.inference.request')!;
    const res = events.find((e) => ce(e, 'type') === 'io.seldon.serving.inference.response')!;
    assert.ok(req && res, JSON.stringify(events.map((e) => e.headers)));
    assert.equal(req.body.toString(), body);
    assert.equal(res.body.toString(), r.text);
    for (const e of [req, res]) {
      assert.equal(e.event.specversion, '1.0');
      assert.equal(ce(e, 'modelid'), 'iris');
      assert.equal(ce(e, 'inferenceservicename'), 'iris-sdep');
      assert.equal(ce(e, 'namespace'), 'models');
      assert.equal(ce(e, 'endpoint'), 'default');
      assert.equal(ce(e, 'protocol'), 'seldon');
      assert.equal(e.headers['content-type'], 'application/json');
      assert.match(ce(e, 'source'), /^http:\/\/localhost:\d+\/$/);
      assert.ok(!Number.isNaN(Date.parse(ce(e, 'time'))));
    }
    assert.notEqual(ce(req, 'id'), ce(res, 'id'), 'each Seldon event has its own Ce-Id');
  });

  test('V2 requests are logged with Ce-Protocol v2; Seldon-Skip-Logging: true logs nothing', async () => {
    const v2 = { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[2] }] };
    const skipped = await postJson(`${server.url}/v2/models/iris/infer`, v2, { 'seldon-puid': 'skip-me', 'seldon-skip-logging': 'true' });
    assert.equal(skipped.status, 200, skipped.text);
    const logged = await postJson(`${server.url}/v2/models/iris/infer`, v2, { 'seldon-puid': 'v2-1' });
    assert.equal(logged.status, 200);
    const events = ofRequest('v2-1')(await sink.waitFor((rs) => ofRequest('v2-1')(rs).length === 2));
    assert.ok(events.every((e) => ce(e, 'protocol') === 'v2'));
    assert.deepEqual(JSON.parse(events.find((e) => ce(e, 'type').endsWith('response'))!.body.toString()).outputs[0].data, models.expected.iris.predict.slice(2, 3));
    // Events are sent in order by concurrent senders: give the skipped one time to show up if it were sent.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ofRequest('skip-me')(sink.received).length, 0);
    assert.ok((await metric(server, 'modelfleet_logger_events_sent_total')) >= 4);
  });
});

describe('a sink that is down or hangs costs predictions nothing', () => {
  test('once no event has left the full queue for the write timeout, new events are dropped at once, not held', async () => {
    // Held events survive young-generation GCs by the thousand; an event that cannot get room in time is dropped
    // when it arrives. The events the queue took still go out, intact, when the sink answers.
    const received: Buffer[] = [];
    let answer = false;
    const waiting: Array<() => void> = [];
    const srv = (await import('node:http')).createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks));
        const reply = () => res.end();
        if (answer) reply();
        else waiting.push(reply);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const registry = new Registry();
    const metrics = new LoggerMetrics(registry);
    const sink = new CloudEventsSink(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`, { queueSize: 2, writeTimeoutMs: 300, workers: 1, retries: 0, requestTimeoutMs: 60_000 }, metrics, createLogger('test', 'error'));
    const source = { source: 'http://test:1/', inferenceServiceName: 'svc', namespace: 'ns', endpoint: 'default', style: 'seldon' as const };
    const event = (i: number) => ({ kind: 'request' as const, requestId: `p${i}`, modelId: 'iris', protocol: 'seldon', contentType: 'application/json', body: `{"i":${i},"s":"é"}`, time: Date.now() });
    const dropped = async () => (await registry.getSingleMetric('modelfleet_logger_events_dropped_total')!.get()).values.reduce((a, v) => a + v.value, 0);
    try {
      for (let i = 0; i < 3; i++) sink.send(event(i), source); // one with the (hanging) sender, two queued
      await new Promise((r) => setTimeout(r, 400));
      sink.send(event(3), source);
      assert.equal(await dropped(), 1, 'the stalled queue drops a new event when it arrives');
      answer = true;
      for (const w of waiting.splice(0)) w();
      const deadline = Date.now() + 10_000;
      while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(received.map((b) => JSON.parse(b.toString()).i), [0, 1, 2]);
      assert.equal(received[1].toString(), '{"i":1,"s":"é"}');
      // The queue moved again: an event that finds it full now waits for room instead of being dropped.
      for (let i = 4; i < 8; i++) sink.send(event(i), source);
      assert.equal(await dropped(), 1);
    } finally {
      await sink.close(1000);
      srv.close();
    }
  });

  for (const kind of ['dead', 'hanging'] as const) {
    test(`${kind} sink: every prediction answers; full-queue drops are counted and logged once`, async () => {
      // dead: a port nobody listens on; hanging: accepts connections and never answers.
      const hang = net.createServer(() => {});
      await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
      const port = (hang.address() as net.AddressInfo).port;
      if (kind === 'dead') await new Promise<void>((r) => hang.close(() => r()));
      const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], {
        MODELFLEET_LOGGER_URL: `http://127.0.0.1:${port}/`,
        MODELFLEET_LOGGER_QUEUE_SIZE: '4',
        MODELFLEET_LOGGER_WORKERS: '2',
        MODELFLEET_LOGGER_WRITE_TIMEOUT_MS: '50',
        MODELFLEET_LOGGER_TIMEOUT_MS: '60000',
      });
      try {
        await waitReady(server);
        for (let i = 0; i < 100; i++) {
          const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[i % 4]] } });
          assert.equal(r.status, 200, r.text);
          assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[i % 4]]);
        }
        // 200 events against 2 senders and a queue of 4 (+4 waiting): most are dropped.
        const deadline = Date.now() + 30_000;
        while ((await metric(server, 'modelfleet_logger_events_dropped_total')) < 150 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.ok((await metric(server, 'modelfleet_logger_events_dropped_total')) >= 150, await (await fetch(`${server.metricsUrl}/metrics`)).text());
        assert.equal(server.logs().match(/request logger: dropped/g)?.length, 1, server.logs());
      } finally {
        assert.equal(await server.stop(), 0, server.logs());
        if (kind === 'hanging') {
          hang.close();
        }
      }
    });
  }

  test('5xx answers are retried with backoff until the sink takes the event', async () => {
    const sink = await startEventSink((n) => (n < 2 ? 503 : 200));
    // The flags, this time, rather than MODELFLEET_LOGGER_URL / _MODE.
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1', '--log-url', sink.url, '--log-mode', 'request']);
    try {
      await waitReady(server);
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } }, { 'seldon-puid': 'retry-1' });
      assert.equal(r.status, 200);
      await sink.waitFor((rs) => rs.length === 1);
      assert.equal(sink.attempts, 3);
      assert.equal(ce(sink.received[0], 'type'), 'io.seldon.serving.inference.request');
      assert.equal(ce(sink.received[0], 'requestid'), 'retry-1');
      assert.equal(await metric(server, 'modelfleet_logger_events_sent_total'), 1);
      assert.equal(await metric(server, 'modelfleet_logger_events_failed_total'), 0);
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
      await sink.close();
    }
  });

  test("KServe's event types on request: request and response share Ce-Id, the component is the model", async () => {
    const sink = await startEventSink();
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], {
      MODELFLEET_LOGGER_URL: sink.url,
      MODELFLEET_LOGGER_EVENTS: 'kserve',
    });
    try {
      await waitReady(server);
      const r = await postJson(`${server.url}/v1/models/iris:predict`, { instances: [IRIS_ROWS[1]] }, { 'ce-id': 'kserve-1' });
      assert.equal(r.status, 200);
      const events = await sink.waitFor((rs) => rs.length === 2);
      assert.deepEqual(events.map((e) => ce(e, 'type')).sort(), ['org.kubeflow.serving.inference.request', 'org.kubeflow.serving.inference.response']);
      assert.ok(events.every((e) => ce(e, 'id') === 'kserve-1' && ce(e, 'component') === 'iris'));
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
      await sink.close();
    }
  });
});

test('JSON Lines sink: one record per request/response pair, rotated by size', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-jsonl-'));
  const file = path.join(dir, 'payloads.jsonl');
  const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], {
    MODELFLEET_LOGGER_URL: `file://${file}`,
    MODELFLEET_LOGGER_FILE_MAX_SIZE: '2kb',
    MODELFLEET_LOGGER_FILE_KEEP: '2',
  });
  try {
    await waitReady(server);
    const answers: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) {
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[i % 4]] } }, { 'seldon-puid': `p${i}` });
      assert.equal(r.status, 200);
      answers[`p${i}`] = r.json;
    }
  } finally {
    assert.equal(await server.stop(), 0, server.logs()); // stop flushes the file
  }
  assert.ok(existsSync(`${file}.1`) && existsSync(`${file}.2`), 'rotated files exist');
  assert.ok(!existsSync(`${file}.3`), 'only MODELFLEET_LOGGER_FILE_KEEP rotated files are kept');
  const lines = [file, `${file}.1`, `${file}.2`].flatMap((f) => readFileSync(f, 'utf8').trim().split('\n'));
  for (const f of [file, `${file}.1`, `${file}.2`]) assert.ok(readFileSync(f).length <= 2048, `${f} is within the size limit`);
  const records = lines.map((l) => JSON.parse(l));
  assert.ok(records.length >= 10 && records.length < 40, `kept ${records.length} records`);
  for (const rec of records) {
    const i = Number(rec.puid.slice(1));
    assert.equal(rec.model, 'iris');
    assert.deepEqual(rec.request.payload, { data: { ndarray: [IRIS_ROWS[i % 4]] } });
    assertClose(rec.response.payload.data.ndarray, [models.expected.iris.predict_proba[i % 4]]);
    assert.ok(Date.parse(rec.request.time) <= Date.parse(rec.response.time));
  }
  // The newest records are in the current file.
  assert.equal(JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop()!).puid, 'p39');
});

describe('graph nodes with logger: {mode, url} in modelfleet run', () => {
  let sink: EventSink;
  let fallback: EventSink;
  let server: ServerProcess;
  before(async () => {
    sink = await startEventSink();
    fallback = await startEventSink();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-graphlog-'));
    const file = path.join(dir, 'sdep.yaml');
    writeFileSync(
      file,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: logged, namespace: prod}
spec:
  predictors:
  - name: main
    graph:
      name: router
      implementation: SIMPLE_ROUTER
      logger: {mode: request}
      children:
      - name: iris
        implementation: SKLEARN_SERVER
        modelUri: ${models.paths.iris}
        logger: {mode: all, url: "${sink.url}"}
`,
    );
    server = await spawnServer([CLI, 'run', file], { REQUEST_LOGGER_DEFAULT_ENDPOINT: fallback.url });
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
    await sink.close();
    await fallback.close();
  });

  test("each logged node's input and output, paired by the graph's puid; the default endpoint for a logger without url", async () => {
    const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[3]] } });
    assert.equal(r.status, 200, r.text);
    const puid = r.json.meta.puid as string;
    assert.ok(puid);
    const iris = ofRequest(puid)(await sink.waitFor((rs) => ofRequest(puid)(rs).length === 2));
    const routerEvents = ofRequest(puid)(await fallback.waitFor((rs) => ofRequest(puid)(rs).length === 1));
    assert.equal(ce(routerEvents[0], 'modelid'), 'router');
    assert.equal(ce(routerEvents[0], 'type'), 'io.seldon.serving.inference.request', 'mode request logs no response');
    for (const e of [...iris, ...routerEvents]) {
      assert.equal(ce(e, 'inferenceservicename'), 'logged');
      assert.equal(ce(e, 'namespace'), 'prod');
      assert.equal(ce(e, 'endpoint'), 'main');
    }
    assert.ok(iris.every((e) => ce(e, 'modelid') === 'iris'));
    const out = JSON.parse(iris.find((e) => ce(e, 'type').endsWith('response'))!.body.toString());
    assertClose(out.data.ndarray, [models.expected.iris.predict_proba[3]]);
    assert.deepEqual(JSON.parse(iris.find((e) => ce(e, 'type').endsWith('request'))!.body.toString()).data.ndarray, [IRIS_ROWS[3]]);

    // Feedback goes to nodes logging responses (mode all), not to mode request.
    const fb = await postJson(`${server.url}/api/v1.0/feedback`, { request: { data: { ndarray: [IRIS_ROWS[3]] } }, response: r.json, reward: 1 });
    assert.equal(fb.status, 200, fb.text);
    await sink.waitFor((rs) => ofRequest(puid)(rs).some((e) => ce(e, 'type') === 'io.seldon.serving.feedback'));
    assert.equal(JSON.parse(ofRequest(puid)(sink.received).find((e) => ce(e, 'type') === 'io.seldon.serving.feedback')!.body.toString()).reward, 1);
    assert.equal(ofRequest(puid)(fallback.received).length, 1);
  });

  test('Seldon-Skip-Logging: true reaches every node of the graph', async () => {
    const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } }, { 'Seldon-Skip-Logging': 'true' });
    assert.equal(r.status, 200);
    const puid = r.json.meta.puid as string;
    const marker = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    await sink.waitFor((rs) => ofRequest(marker.json.meta.puid)(rs).length === 2);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ofRequest(puid)(sink.received).length + ofRequest(puid)(fallback.received).length, 0);
  });

  test('a bad logger mode is refused before anything starts', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-graphlog-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, `apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: bad}\nspec:\n  predictors:\n  - name: p\n    graph: {name: m, implementation: SIMPLE_MODEL, logger: {mode: everything}}\n`);
    const { runToExit } = await import('./helpers/server.js');
    const res = await runToExit([CLI, 'run', file]);
    assert.equal(res.code, 2, res.output);
    assert.match(res.output, /logger\.mode must be all, request or response/);
  });
});
