// Every Kubernetes manifest modelfleet ships (deploy/seldon, deploy/kserve) or renders (`modelfleet render`) is
// validated offline: core objects against the Kubernetes OpenAPI schemas of the kubernetes-models npm package,
// KServe resources against their CRDs' openAPIV3Schema (test/fixtures/crd, taken from kserve/kserve — the file names
// the commit), seldon-config's JSON entries against the shape the Seldon Core v1 operator reads (PredictorServerConfig
// / storageInitializer, as documented in its Helm chart). No Kubernetes API server is available here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseAllDocuments, parse } from 'yaml';
import Ajv from 'ajv';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Container } from 'kubernetes-models/v1/Container';
import { CLI, REPO, runToExit } from './helpers/server.js';

const VERSION = JSON.parse(readFileSync(`${REPO}shared/package.json`, 'utf8')).version as string;
const ajv = new Ajv.default({ strict: false, allErrors: true });
const crd = (file: string) => ajv.compile(JSON.parse(readFileSync(`${REPO}test/fixtures/crd/${file}`, 'utf8')));
const CRDS: Record<string, ReturnType<typeof crd>> = {
  ClusterServingRuntime: crd('kserve-clusterservingruntime-v1alpha1.schema.json'),
  ClusterStorageContainer: crd('kserve-clusterstoragecontainer-v1alpha1.schema.json'),
};

/** Validates one object; returns its kind. kubernetes-models' validate() throws with the failing path. */
function validate(obj: any, where: string): string {
  switch (`${obj.apiVersion}/${obj.kind}`) {
    case 'v1/ConfigMap':
      new ConfigMap(obj).validate();
      break;
    case 'v1/Service':
      new Service(obj).validate();
      break;
    case 'apps/v1/Deployment':
      new Deployment(obj).validate();
      break;
    case 'serving.kserve.io/v1alpha1/ClusterServingRuntime':
    case 'serving.kserve.io/v1alpha1/ClusterStorageContainer': {
      const check = CRDS[obj.kind];
      const valid = check(obj) as boolean; // not the type guard: obj stays any
      assert.ok(valid, `${where}: ${obj.kind} against its CRD schema: ${ajv.errorsText(check.errors)}`);
      // The containers in a runtime are Kubernetes containers: check them with the core schema as well.
      for (const c of obj.spec.containers ?? (obj.spec.container ? [obj.spec.container] : [])) new Container(c).validate();
      break;
    }
    default:
      assert.fail(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
  }
  return obj.kind;
}

function docs(text: string, where: string): any[] {
  return parseAllDocuments(text).map((d) => {
    assert.equal(d.errors.length, 0, `${where}: ${d.errors[0]?.message}`);
    return d.toJS();
  });
}

test('the validators reject what the API server would (so the checks below can fail)', () => {
  const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'c' }] } } } };
  assert.throws(() => validate(dep, 'no selector'), /selector/);
  const port = { ...dep, spec: { selector: {}, template: { spec: { containers: [{ name: 'c', ports: [{ containerPort: '9000' }] }] } } } };
  assert.throws(() => validate(port, 'string port'), /integer/);
  const runtime = parse(readFileSync(`${REPO}deploy/kserve/sklearnserver.yaml`, 'utf8'));
  runtime.spec.supportedModelFormats[0].priority = 'high';
  assert.throws(() => validate(runtime, 'bad priority'), /priority/);
});

test('deploy/kserve: ClusterServingRuntimes and ClusterStorageContainer are valid and name our images at the package version', () => {
  const dir = `${REPO}deploy/kserve`;
  const formats = new Set<string>();
  const kinds: string[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const obj of docs(readFileSync(path.join(dir, f), 'utf8'), f)) {
      kinds.push(validate(obj, f));
      const containers = obj.spec.containers ?? [obj.spec.container];
      for (const c of containers) assert.match(c.image, new RegExp(`^modelfleet/[a-z-]+:${VERSION.replace(/\./g, '\\.')}$`), `${f}: image tag = package version`);
      for (const m of obj.spec.supportedModelFormats ?? []) formats.add(m.name);
      if (obj.kind === 'ClusterServingRuntime') {
        assert.deepEqual(obj.spec.protocolVersions, ['v1', 'v2']);
        const env = Object.fromEntries(containers[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.MODEL_URI, '/mnt/models');
        assert.equal(env.MLSERVER_MODEL_NAME, '{{.Name}}');
        assert.equal(env.PREDICTIVE_UNIT_HTTP_SERVICE_PORT, String(containers[0].ports[0].containerPort));
      }
    }
  }
  assert.deepEqual([...formats].sort(), ['mlflow', 'onnx', 'sklearn', 'xgboost']);
  assert.equal(kinds.filter((k) => k === 'ClusterServingRuntime').length, 4);
  assert.ok(kinds.includes('ClusterStorageContainer'));
});

test('deploy/seldon: seldon-config ConfigMap and Helm values name our images for the four servers and storage-init', () => {
  const [cm] = docs(readFileSync(`${REPO}deploy/seldon/seldon-config.yaml`, 'utf8'), 'seldon-config.yaml');
  validate(cm, 'seldon-config.yaml');
  // PredictorServerConfig: {protocols: {<protocol>: {image, defaultImageVersion}}} (operator's Go types).
  const predictorServers = ajv.compile({
    type: 'object',
    additionalProperties: {
      type: 'object',
      required: ['protocols'],
      additionalProperties: false,
      properties: {
        protocols: {
          type: 'object',
          propertyNames: { enum: ['seldon', 'tensorflow', 'v2', 'kfserving'] },
          additionalProperties: { type: 'object', required: ['image', 'defaultImageVersion'], additionalProperties: false, properties: { image: { type: 'string' }, defaultImageVersion: { type: 'string' } } },
        },
      },
    },
  });
  const servers: any = JSON.parse(cm.data.predictor_servers);
  assert.ok(predictorServers(servers), ajv.errorsText(predictorServers.errors));
  const values = parse(readFileSync(`${REPO}deploy/seldon/values.yaml`, 'utf8'));
  assert.deepEqual(values.predictor_servers, servers, 'values.yaml and seldon-config.yaml say the same');
  for (const impl of ['SKLEARN_SERVER', 'XGBOOST_SERVER', 'TENSORFLOW_SERVER', 'MLFLOW_SERVER']) {
    for (const proto of ['seldon', 'v2']) {
      const entry: any = (servers as any)[impl].protocols[proto];
      assert.match(entry.image, /^modelfleet\//, `${impl} ${proto}`);
      assert.equal(entry.defaultImageVersion, VERSION);
    }
  }
  const si = JSON.parse(cm.data.storageInitializer);
  assert.equal(si.image, `modelfleet/storage-init:${VERSION}`);
  assert.deepEqual(values.storageInitializer, si);
  assert.equal(values.defaultUserID, '8888');
});

test('modelfleet render: a one-model deployment becomes a valid Deployment + Services with storage-init, probes, env, resources', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-render-'));
  const file = path.join(dir, 'iris.yaml');
  writeFileSync(
    file,
    `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: Iris_Model, namespace: models}
spec:
  predictors:
  - name: default
    replicas: 2
    graph:
      name: classifier
      implementation: SKLEARN_SERVER
      modelUri: s3://models/iris
      envSecretRefName: s3-credentials
      parameters: [{name: method, value: predict, type: STRING}]
    componentSpecs:
    - spec:
        containers:
        - name: classifier
          resources: {requests: {cpu: "1", memory: 1Gi}, limits: {memory: 1Gi}}
          env: [{name: MODELFLEET_WORKERS, value: "2"}]
`,
  );
  const r = await runToExit([CLI, 'render', file]);
  assert.equal(r.code, 0, r.output);
  const objs = docs(r.output, 'render');
  const kinds = objs.map((o) => validate(o, `${o.kind} ${o.metadata.name}`));
  assert.deepEqual(kinds.sort(), ['Deployment', 'Service', 'Service']);
  const dep = objs.find((o) => o.kind === 'Deployment');
  assert.equal(dep.metadata.name, 'iris-model-default');
  assert.equal(dep.metadata.namespace, 'models');
  assert.equal(dep.spec.replicas, 2);
  const pod = dep.spec.template.spec;
  assert.equal(pod.securityContext.runAsUser, 8888);
  assert.equal(dep.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
  assert.equal(dep.spec.template.metadata.annotations['prometheus.io/port'], '6000');
  const [init] = pod.initContainers;
  assert.equal(init.image, `modelfleet/storage-init:${VERSION}`);
  assert.deepEqual(init.args, ['s3://models/iris', '/mnt/models']);
  assert.deepEqual(init.envFrom, [{ secretRef: { name: 's3-credentials' } }]);
  const [c] = pod.containers;
  assert.equal(c.image, `modelfleet/sklearnserver:${VERSION}`);
  assert.deepEqual(c.volumeMounts.find((m: any) => m.mountPath === '/mnt/models'), { name: 'model-provision-location', mountPath: '/mnt/models', readOnly: true });
  assert.ok(pod.volumes.some((v: any) => v.name === 'model-provision-location' && v.emptyDir));
  const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
  assert.deepEqual(JSON.parse(env.PREDICTIVE_UNIT_PARAMETERS), [
    { name: 'method', value: 'predict', type: 'STRING' },
    { name: 'model_uri', value: '/mnt/models', type: 'STRING' },
  ]);
  assert.equal(env.PREDICTIVE_UNIT_ID, 'classifier');
  assert.equal(env.SELDON_DEPLOYMENT_ID, 'Iris_Model');
  assert.equal(env.MODELFLEET_WORKERS, '2');
  assert.deepEqual(c.resources, { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } });
  assert.equal(c.readinessProbe.httpGet.path, '/v2/health/ready');
  assert.equal(c.livenessProbe.httpGet.path, '/v2/health/live');
  assert.deepEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [['http', 9000], ['grpc', 9500], ['metrics', 6000]]);
  for (const svc of objs.filter((o) => o.kind === 'Service')) {
    assert.deepEqual(svc.spec.ports.map((p: any) => p.name), ['http', 'grpc', 'metrics']);
    assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  }
});

test('modelfleet render: a graph runs under modelfleet run from a ConfigMap, one storage-init per model', async () => {
  const r = await runToExit([CLI, 'render', `${REPO}examples/ab.yaml`, '--image-prefix', 'registry.example.com/ml/', '--tag', '9.9.9']);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /warning: node "iris" has modelUri \.\/iris, a local path/);
  const objs = docs(r.output.slice(r.output.indexOf('apiVersion')), 'render');
  for (const o of objs) validate(o, `${o.kind} ${o.metadata.name}`);
  const cm = objs.find((o) => o.kind === 'ConfigMap');
  const graph = parse(cm.data['deployment.yaml']);
  assert.equal(graph.spec.predictors[0].graph.children[0].modelUri, '/mnt/models/iris');
  const dep = objs.find((o) => o.kind === 'Deployment');
  const pod = dep.spec.template.spec;
  assert.deepEqual(pod.initContainers.map((c: any) => [c.image, c.args]), [['registry.example.com/ml/storage-init:9.9.9', ['./iris', '/mnt/models/iris']]]);
  const [c] = pod.containers;
  assert.equal(c.image, 'registry.example.com/ml/python:9.9.9');
  assert.deepEqual(c.command.slice(2), ['/usr/local/bin/node', '/app/shared/dist/cli.js']);
  assert.deepEqual(c.args.slice(0, 2), ['run', '/etc/modelfleet/deployment.yaml']);
  assert.ok(pod.volumes.some((v: any) => v.configMap?.name === cm.metadata.name));
});

test('modelfleet render: a file that is not a valid SeldonDeployment is an error listing the problems', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-render-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: x}\nspec:\n  predictors:\n  - name: a\n    traffic: 50\n    graph: {name: m, implementation: NO_SUCH_SERVER}\n');
  const r = await runToExit([CLI, 'render', file]);
  assert.equal(r.code, 2);
  assert.match(r.output, /NO_SUCH_SERVER/);
});

test('lerna: its package list is the npm workspaces (bench included) and lerna itself lists every package', () => {
  const lerna = JSON.parse(readFileSync(`${REPO}lerna.json`, 'utf8'));
  const pkg = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8'));
  assert.deepEqual(lerna.packages, pkg.workspaces);
  assert.ok(pkg.devDependencies.lerna, 'lerna is a dev dependency');
  const listed = JSON.parse(execFileSync(`${REPO}node_modules/.bin/lerna`, ['list', '--all', '--json', '--loglevel', 'silent'], { cwd: REPO, encoding: 'utf8' }));
  const names = listed.map((p: any) => p.name).sort();
  const expected = pkg.workspaces.map((w: string) => JSON.parse(readFileSync(`${REPO}${w}/package.json`, 'utf8')).name).sort();
  assert.deepEqual(names, expected);
});

test('lerna version (the documented dry run) bumps every workspace package in a clone, without tagging or pushing', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-lerna-'));
  execFileSync('git', ['clone', '-q', '--depth', '1', `file://${REPO}`, dir]);
  execFileSync('ln', ['-s', `${REPO}node_modules`, path.join(dir, 'node_modules')]);
  execFileSync(`${REPO}node_modules/.bin/lerna`, ['version', '9.9.9', '--no-git-tag-version', '--no-push', '--yes', '--allow-branch', '*', '--loglevel', 'warn'], { cwd: dir, encoding: 'utf8' });
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const w of pkg.workspaces as string[]) assert.equal(JSON.parse(readFileSync(path.join(dir, w, 'package.json'), 'utf8')).version, '9.9.9', w);
  assert.equal(execFileSync('git', ['tag'], { cwd: dir, encoding: 'utf8' }).trim(), '');
});
