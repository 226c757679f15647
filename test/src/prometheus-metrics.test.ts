// Metrics as a real Prometheus sees them: Debian's prometheus scrapes a model server and a `modelfleet run` graph, and
// its HTTP API answers for request counters and latency histograms by model/protocol/code, Seldon's executor metric
// names, a user class's COUNTER/GAUGE/TIMER, feedback and request-logger drops; every PromQL query of the Grafana
// dashboard in deploy/grafana runs against it and returns series. (No Grafana runs here: its panels' queries are what
// it would send to this Prometheus.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { startPrometheus, type Prometheus } from './helpers/prometheus.js';
import { CLI, postJson, REPO, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

const METER = `
class Meter:
    def transform_input(self, X, names):
        return X

    def metrics(self):
        return [{"type": "COUNTER", "key": "meter_calls", "value": 1},
                {"type": "GAUGE", "key": "meter_level", "value": 7, "tags": {"unit": "rows"}},
                {"type": "TIMER", "key": "meter_work", "value": 15}]
`;

const hostPort = (url: string) => new URL(url).host;

describe('a real Prometheus scraping a server and a graph', () => {
  let models: TrainedModels;
  let server: ServerProcess;
  let graph: ServerProcess;
  let prom: Prometheus;
  const sent = { ok: 0, bad: 0, v2: 0, feedback: 0, graphOk: 0, graphBad: 0 };

  before(async () => {
    models = await sklearnModels();
    // A port nobody listens on: the logger's queue of 2 fills and events are dropped.
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--workers', '1'], {
      PREDICTIVE_UNIT_ID: 'iris',
      PREDICTIVE_UNIT_IMAGE: 'modelfleet/sklearnserver:0.1.0',
      SELDON_DEPLOYMENT_ID: 'standalone',
      PREDICTOR_ID: 'default',
      MODELFLEET_LOGGER_URL: `http://127.0.0.1:${deadPort}/`,
      MODELFLEET_LOGGER_QUEUE_SIZE: '2',
      MODELFLEET_LOGGER_WRITE_TIMEOUT_MS: '10',
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-prom-graph-'));
    writeFileSync(path.join(dir, 'Meter.py'), METER);
    writeFileSync(
      path.join(dir, 'sdep.yaml'),
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: metered}
spec:
  predictors:
  - name: main
    labels: {version: v1}
    componentSpecs:
    - spec:
        containers:
        - name: meter
          image: tests/meter:0.1
          env:
          - {name: MODEL_NAME, value: Meter.Meter}
    graph:
      name: meter
      type: TRANSFORMER
      modelUri: .
      children:
      - name: iris
        implementation: SKLEARN_SERVER
        modelUri: ${models.paths.iris}
        logger: {mode: all, url: "file://${dir}/payloads.jsonl"}
`,
    );
    graph = await spawnServer([CLI, 'run', path.join(dir, 'sdep.yaml'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
    await Promise.all([waitReady(server), waitReady(graph, 120_000)]);
    prom = await startPrometheus({ server: hostPort(server.metricsUrl), graph: hostPort(graph.metricsUrl) });
    // Traffic only once both targets are scraped, in bursts a scrape apart, so rates have samples to work on.
    const deadline = Date.now() + 60_000;
    while ((await prom.query('sum(up)'))[0]?.value[1] !== '2') {
      if (Date.now() > deadline) throw new Error(`targets not up:\n${prom.logs()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 8; i++) {
        const row = IRIS_ROWS[i % 4];
        const ok = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [row] } });
        assert.equal(ok.status, 200, ok.text);
        sent.ok++;
        const g = await postJson(`${graph.url}/api/v1.0/predictions`, { data: { ndarray: [row] } });
        assert.equal(g.status, 200, g.text);
        sent.graphOk++;
      }
      const bad = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
      assert.equal(bad.status, 400, bad.text);
      sent.bad++;
      const gbad = await postJson(`${graph.url}/api/v1.0/predictions`, { data: { ndarray: [[1, 2]] } });
      assert.equal(gbad.status, 400, gbad.text);
      sent.graphBad++;
      const v2 = await postJson(`${server.url}/v2/models/iris/infer`, { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[0] }] });
      assert.equal(v2.status, 200, v2.text);
      sent.v2++;
      const fb = await postJson(`${server.url}/api/v1.0/feedback`, { request: { data: { ndarray: [IRIS_ROWS[0]] } }, reward: 0.5 });
      assert.equal(fb.status, 200, fb.text);
      sent.feedback++;
      await new Promise((r) => setTimeout(r, 1500));
    }
    // Wait until Prometheus has scraped the last burst.
    const until = Date.now() + 30_000;
    while (Number((await prom.query('sum(seldon_api_executor_server_requests_seconds_count{job="graph"})'))[0]?.value[1] ?? 0) < sent.graphOk + sent.graphBad) {
      if (Date.now() > until) throw new Error('Prometheus did not see the traffic');
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    await prom?.stop();
    for (const s of [server, graph]) if (s) assert.equal(await s.stop(), 0, s.logs());
  });

  const values = async (q: string) => Object.fromEntries((await prom.query(q)).map((r) => [JSON.stringify(r.metric), Number(r.value[1])]));

  test('request counters and latency histograms by model, protocol and status code', async () => {
    const counts = await values('sum by (model_name, protocol, code) (modelfleet_requests_total{job="server", endpoint=~"predictions|infer"})');
    assert.deepEqual(counts, {
      [JSON.stringify({ code: '200', model_name: 'iris', protocol: 'seldon' })]: sent.ok,
      [JSON.stringify({ code: '400', model_name: 'iris', protocol: 'seldon' })]: sent.bad,
      [JSON.stringify({ code: '200', model_name: 'iris', protocol: 'v2' })]: sent.v2,
    });
    const hist = await values('sum by (model_name, protocol, code) (modelfleet_request_duration_seconds_count{job="server", endpoint=~"predictions|infer"})');
    assert.deepEqual(hist, counts, 'every request is in the latency histogram under the same labels');
    const p99 = await prom.query('histogram_quantile(0.99, sum by (le, protocol) (rate(modelfleet_request_duration_seconds_bucket{job="server"}[1m])))');
    const seldon = p99.find((r) => r.metric.protocol === 'seldon');
    assert.ok(seldon && Number(seldon.value[1]) > 0 && Number(seldon.value[1]) < 10, JSON.stringify(p99));
    // Seldon's identity labels on every sample.
    const [one] = await prom.query('modelfleet_requests_total{job="server", protocol="seldon", code="200", endpoint="predictions"}');
    assert.equal(one.metric.deployment_name, 'standalone');
    assert.equal(one.metric.predictor_name, 'default');
    assert.equal(one.metric.model_image, 'modelfleet/sklearnserver');
    assert.equal(one.metric.model_version, '0.1.0');
  });

  test("Seldon's executor metrics from the graph: server requests by code, client calls per node and service", async () => {
    const server = await values('sum by (deployment_name, predictor_name, predictor_version, service, code) (seldon_api_executor_server_requests_seconds_count{job="graph"})');
    const key = (code: string) => JSON.stringify({ code, deployment_name: 'metered', predictor_name: 'main', predictor_version: 'v1', service: 'predictions' });
    assert.equal(server[key('200')], sent.graphOk, JSON.stringify(server));
    assert.equal(server[key('400')], sent.graphBad, JSON.stringify(server));
    const client = await values('sum by (model_name, service, code) (seldon_api_executor_client_requests_seconds_count{job="graph", deployment_name="metered"})');
    assert.equal(client[JSON.stringify({ code: '200', model_name: 'meter', service: '/transform-input' })], sent.graphOk + sent.graphBad, JSON.stringify(client));
    assert.equal(client[JSON.stringify({ code: '200', model_name: 'iris', service: '/predict' })], sent.graphOk, JSON.stringify(client));
    assert.equal(client[JSON.stringify({ code: '400', model_name: 'iris', service: '/predict' })], sent.graphBad, JSON.stringify(client));
    const buckets = await prom.query('count(seldon_api_executor_client_requests_seconds_bucket{job="graph", model_name="iris", service="/predict", code="200"})');
    assert.equal(Number(buckets[0].value[1]), 15, "Seldon's 14 buckets and +Inf");
  });

  test("a user class's COUNTER, GAUGE and TIMER from metrics()", async () => {
    const calls = sent.graphOk + sent.graphBad;
    const [counter] = await prom.query('sum(meter_calls_total{job="graph"})');
    assert.equal(Number(counter.value[1]), calls);
    const [gauge] = await prom.query('meter_level{job="graph", unit="rows"}');
    assert.equal(Number(gauge.value[1]), 7);
    const [count] = await prom.query('sum(meter_work_count{job="graph"})');
    const [sum] = await prom.query('sum(meter_work_sum{job="graph"})');
    assert.equal(Number(count.value[1]), calls);
    assert.ok(Math.abs(Number(sum.value[1]) - calls * 0.015) < 1e-9, 'TIMER milliseconds observed in seconds');
    const [le] = await prom.query('sum(meter_work_bucket{job="graph", le="+Inf"})');
    assert.equal(Number(le.value[1]), calls);
  });

  test('feedback counters and request-logger drops', async () => {
    const [fb] = await prom.query('sum(seldon_api_model_feedback_total{job="server"})');
    assert.equal(Number(fb.value[1]), sent.feedback);
    const [reward] = await prom.query('sum(seldon_api_model_feedback_reward_total{job="server"})');
    assert.equal(Number(reward.value[1]), sent.feedback * 0.5);
    const [dropped] = await prom.query('sum(modelfleet_logger_events_dropped_total{job="server"})');
    assert.ok(Number(dropped.value[1]) > 0, 'a dead sink with a queue of 2 drops events');
    // The graph's iris node logs to a JSON Lines file: one record per answered request/response pair.
    const [written] = await prom.query('sum(modelfleet_logger_events_sent_total{job="graph"})');
    assert.equal(Number(written.value[1]), sent.graphOk);
  });

  test('every panel query and variable of the Grafana dashboard runs against Prometheus and returns series', async () => {
    const dash = JSON.parse(readFileSync(path.join(REPO, 'deploy/grafana/modelfleet-dashboard.json'), 'utf8'));
    const vars: Array<{ name: string; definition: string }> = dash.templating.list;
    for (const v of vars) {
      const m = /^label_values\((\w+), (\w+)\)$/.exec(v.definition);
      assert.ok(m, `variable ${v.name}: ${v.definition}`);
      assert.ok((await prom.labelValues(m[2], m[1])).length > 0, `variable ${v.name} has values`);
    }
    let queries = 0;
    for (const panel of dash.panels) {
      for (const target of panel.targets) {
        // Grafana substitutes "All" with the variable's allValue.
        const expr = (target.expr as string).replace(/\$(\w+)/g, (_m, name: string) => {
          assert.ok(vars.some((v) => v.name === name), `panel "${panel.title}" uses an undefined variable $${name}`);
          return '.*';
        });
        const result = await prom.query(expr);
        assert.ok(result.length > 0, `panel "${panel.title}" (${target.refId}) returned no series: ${expr}`);
        queries++;
      }
    }
    assert.ok(queries >= 14, `${queries} queries`);
  });
});
