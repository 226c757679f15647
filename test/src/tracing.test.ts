// OpenTelemetry tracing: a server span per request, one span per graph node, client spans for remote nodes with the
// context carried in HTTP headers and gRPC metadata, callers' W3C / B3 / Jaeger contexts continued, Seldon's
// TRACING / JAEGER_* variables mapped. No OpenTelemetry Collector or Jaeger runs here: spans are exported over OTLP/HTTP
// to a receiver in the test that decodes them with OpenTelemetry's own generated protobuf types.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tracingFromEnv } from '@modelfleet/shared/tracing/config';
import { assertClose, IRIS_ROWS, sklearnModels, type TrainedModels } from './helpers/models.js';
import { CLI, postJson, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';
import { KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js';

const ids = () => ({ trace: randomBytes(16).toString('hex'), span: randomBytes(8).toString('hex') });

describe('traces across a graph and its remote nodes', () => {
  let models: TrainedModels;
  let otlp: OtlpReceiver;
  let restModel: ServerProcess;
  let grpcModel: ServerProcess;
  let graph: ServerProcess;
  const env = (service: string) => ({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '100' });

  before(async () => {
    models = await sklearnModels();
    otlp = await startOtlpReceiver();
    const args = ['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'];
    [restModel, grpcModel] = await Promise.all([serveCli(args, env('iris-rest')), serveCli(args, env('iris-grpc'))]);
    await Promise.all([waitReady(restModel), waitReady(grpcModel)]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-trace-'));
    const file = path.join(dir, 'sdep.yaml');
    writeFileSync(
      file,
      `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: traced}
spec:
  predictors:
  - name: main
    graph:
      name: combiner
      implementation: AVERAGE_COMBINER
      children:
      - name: over-rest
        endpoint: {service_host: 127.0.0.1, service_port: ${new URL(restModel.url).port}, type: REST}
      - name: over-grpc
        endpoint: {service_host: 127.0.0.1, service_port: ${grpcModel.grpcTarget!.split(':')[1]}, type: GRPC}
`,
    );
    graph = await spawnServer([CLI, 'run', file], env('executor'));
    await waitReady(graph);
  });
  after(async () => {
    for (const s of [graph, restModel, grpcModel]) if (s) assert.equal(await s.stop(), 0, s.logs());
    await otlp.close();
  });

  test("a 3-node graph gives one trace continuing the caller's traceparent, parented across a REST and a gRPC hop", async () => {
    const caller = ids();
    const r = await postJson(`${graph.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[2]] } }, { traceparent: `00-${caller.trace}-${caller.span}-01` });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.ndarray, [models.expected.iris.predict_proba[2]], 1e-9);
    const inTrace = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === caller.trace);
    // graph: server + 3 nodes + 2 clients; each model: 1 server span
    const spans = inTrace(await otlp.waitFor((all) => inTrace(all).length >= 8));
    const one = (pred: (s: ReceivedSpan) => boolean, what: string) => {
      const found = spans.filter(pred);
      assert.equal(found.length, 1, `${what}: ${JSON.stringify(spans, null, 1)}`);
      return found[0];
    };
    const server = one((s) => s.service === 'executor' && s.kind === KIND.SERVER, 'graph server span');
    assert.equal(server.parentSpanId, caller.span, "the graph's server span is the caller's child");
    assert.equal(server.attributes['modelfleet.protocol'], 'seldon');
    assert.equal(server.attributes['modelfleet.model'], 'traced');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['seldon.puid'], r.json.meta.puid);
    const combiner = one((s) => s.name === 'node combiner', 'combiner node span');
    assert.equal(combiner.parentSpanId, server.spanId);
    assert.equal(combiner.kind, KIND.INTERNAL);
    for (const [node, service, client] of [
      ['over-rest', 'iris-rest', '/predict'],
      ['over-grpc', 'iris-grpc', '/seldon.protos.Model/Predict'],
    ] as const) {
      const nodeSpan = one((s) => s.name === `node ${node}`, `${node} node span`);
      assert.equal(nodeSpan.parentSpanId, combiner.spanId);
      assert.equal(nodeSpan.attributes['seldon.puid'], r.json.meta.puid);
      const clientSpan = one((s) => s.kind === KIND.CLIENT && s.attributes['seldon.node'] === node, `${node} client span`);
      assert.equal(clientSpan.name, client);
      assert.equal(clientSpan.parentSpanId, nodeSpan.spanId);
      const remote = one((s) => s.service === service, `${service} server span`);
      assert.equal(remote.kind, KIND.SERVER);
      assert.equal(remote.parentSpanId, clientSpan.spanId, `${service}'s span continues the context sent in ${node === 'over-rest' ? 'HTTP headers' : 'gRPC metadata'}`);
    }
    assert.equal(spans.length, 8, JSON.stringify(spans.map((s) => [s.service, s.name])));
  });

  test('B3 (single and multi header) and Jaeger uber-trace-id contexts from callers are continued', async () => {
    const cases: Array<[string, Record<string, string>, { trace: string; span: string }]> = [];
    let c = ids();
    cases.push(['b3 single', { b3: `${c.trace}-${c.span}-1` }, c]);
    c = ids();
    cases.push(['b3 multi', { 'x-b3-traceid': c.trace, 'x-b3-spanid': c.span, 'x-b3-sampled': '1' }, c]);
    c = ids();
    cases.push(['jaeger', { 'uber-trace-id': `${c.trace}:${c.span}:0:1` }, c]);
    for (const [what, headers, caller] of cases) {
      const r = await postJson(`${restModel.url}/v2/models/iris/infer`, { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: IRIS_ROWS[0] }] }, headers);
      assert.equal(r.status, 200, r.text);
      const [span] = (await otlp.waitFor((all) => all.some((s) => s.traceId === caller.trace))).filter((s) => s.traceId === caller.trace);
      assert.equal(span.parentSpanId, caller.span, what);
      assert.equal(span.name, 'v2 infer', what);
      assert.equal(span.kind, KIND.SERVER, what);
    }
  });

  test('an error answer is a span with error status and its HTTP code', async () => {
    const caller = ids();
    const r = await postJson(`${restModel.url}/api/v1.0/predictions`, '{"data":', { traceparent: `00-${caller.trace}-${caller.span}-01` });
    assert.equal(r.status, 400);
    const [span] = (await otlp.waitFor((all) => all.some((s) => s.traceId === caller.trace))).filter((s) => s.traceId === caller.trace);
    assert.equal(span.attributes['http.response.status_code'], 400);
  });
});

describe('configuration', () => {
  test('off by default; TRACING=1 and JAEGER_* are mapped; OTEL_* win; bad values are refused', () => {
    assert.equal(tracingFromEnv({}, 'm'), undefined);
    assert.equal(tracingFromEnv({ TRACING: '1', OTEL_SDK_DISABLED: 'true' }, 'm'), undefined);
    assert.equal(tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, 'm'), undefined);
    const seldon = tracingFromEnv({ TRACING: '1', JAEGER_AGENT_HOST: 'jaeger', JAEGER_AGENT_PORT: '5775', JAEGER_SAMPLER_TYPE: 'probabilistic', JAEGER_SAMPLER_PARAM: '0.25', JAEGER_SERVICE_NAME: 'executor' }, 'm')!;
    assert.equal(seldon.url, 'http://jaeger:4318/v1/traces');
    assert.deepEqual(seldon.jaegerSampler, { type: 'probabilistic', param: 0.25 });
    assert.equal(seldon.serviceName, 'executor');
    assert.equal(seldon.b3Multi, false);
    const otel = tracingFromEnv({ TRACING: '1', JAEGER_AGENT_HOST: 'jaeger', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 's', JAEGER_TRACE_PROPAGATION_TYPE: 'b3' }, 'm')!;
    assert.equal(otel.url, undefined, 'the OTLP exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself');
    assert.equal(otel.jaegerSampler, undefined);
    assert.equal(otel.serviceName, 's');
    assert.equal(otel.b3Multi, true);
    assert.throws(() => tracingFromEnv({ TRACING: '1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'm'), /http\/protobuf/);
    assert.throws(() => tracingFromEnv({ TRACING: '1', OTEL_PROPAGATORS: 'xray' }, 'm'), /unknown propagator/);
    assert.throws(() => tracingFromEnv({ TRACING: '1', JAEGER_SAMPLER_TYPE: 'const', JAEGER_SAMPLER_PARAM: '2' }, 'm'), /JAEGER_SAMPLER_PARAM/);
  });

  test('a server with tracing off exports nothing and loads no OpenTelemetry module', async () => {
    const models = await sklearnModels();
    const otlp = await startOtlpReceiver();
    // The endpoint is named only in a variable that does not turn tracing on by itself.
    const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--workers', '1'], {
      OTEL_SERVICE_NAME: 'off',
      NODE_DEBUG: 'module',
    });
    try {
      await waitReady(server);
      const caller = ids();
      const r = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } }, { traceparent: `00-${caller.trace}-${caller.span}-01` });
      assert.equal(r.status, 200);
      assert.doesNotMatch(server.logs(), /tracing on/);
      assert.doesNotMatch(server.logs(), /@opentelemetry\/(sdk|exporter|context)/, 'no OpenTelemetry SDK module was loaded');
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(otlp.spans.length, 0);
    } finally {
      assert.equal(await server.stop(), 0, server.logs().slice(-2000));
      await otlp.close();
    }
  });
});
