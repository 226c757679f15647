/**
 * `modelfleet render deployment.yaml`: plain Kubernetes manifests for a SeldonDeployment, for clusters with no
 * operator. Per predictor: a Deployment (storage-init init containers filling an emptyDir at /mnt/models, the server
 * — or `modelfleet run` for a graph — with probes on the health paths, Prometheus annotations, Seldon's env and
 * ports, resources and env from componentSpecs) and a Service with http/grpc/metrics ports. Traffic splitting
 * between predictors is an ingress's job (Istio, Ambassador) and is not rendered.
 */
import { stringify } from 'yaml';
import { BUILTINS, nodeKind, type Container, type PredictiveUnit, type Predictor, type SeldonDeployment } from '../graph/deployment.js';
import { ConfigError } from '../config/parameters.js';
import { IMAGE_FOR, imageRef, PORTS, PYTHON_IMAGE, STORAGE_INIT_IMAGE, type ImageNaming } from './images.js';

type Obj = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
/** componentSpecs containers carry the full Kubernetes container shape; the graph parser reads only a part. */
type SpecContainer = Container & { resources?: Obj; env?: EnvVar[]; envFrom?: unknown[] };

const MODEL_DIR = '/mnt/models';
const GRAPH_DIR = '/etc/modelfleet';
const MODEL_VOLUME = 'model-provision-location';

export interface RenderOptions extends ImageNaming {
  namespace?: string;
}

/** DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters (Seldon truncates the same way). */
export function k8sName(...parts: string[]): string {
  const s = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, 63).replace(/-+$/, '');
}

export function walk(node: PredictiveUnit, visit: (n: PredictiveUnit) => void): void {
  visit(node);
  for (const c of node.children ?? []) walk(c, visit);
}

function specContainers(p: Predictor): SpecContainer[] {
  return (p.componentSpecs ?? []).flatMap((c) => (c.spec?.containers ?? []) as SpecContainer[]);
}

/** Returns every manifest as one multi-document YAML text. */
export function renderManifests(sdep: SeldonDeployment, opts: RenderOptions): string {
  return renderObjects(sdep, opts)
    .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
}

export function renderObjects(sdep: SeldonDeployment, opts: RenderOptions): Obj[] {
  const namespace = opts.namespace ?? sdep.metadata.namespace;
  const out: Obj[] = [];
  const serving = sdep.spec.predictors.filter((p) => !p.shadow);
  for (const p of sdep.spec.predictors) out.push(...renderPredictor(sdep, p, opts, namespace));
  // One Service under the deployment's own name when a single predictor takes all traffic.
  if (serving.length === 1) out.push(service(sdep.metadata.name, namespace, selector(sdep, serving[0]), labels(sdep, serving[0])));
  return out;
}

function labels(sdep: SeldonDeployment, p: Predictor): Record<string, string> {
  return {
    ...(p.labels ?? {}),
    'app.kubernetes.io/name': 'modelfleet',
    'app.kubernetes.io/instance': k8sName(sdep.metadata.name),
    'app.kubernetes.io/component': k8sName(p.name),
    'seldon-deployment-id': k8sName(sdep.metadata.name),
  };
}

function selector(sdep: SeldonDeployment, p: Predictor): Record<string, string> {
  return { 'app.kubernetes.io/instance': k8sName(sdep.metadata.name), 'app.kubernetes.io/component': k8sName(p.name) };
}

function meta(name: string, namespace: string | undefined, lbls: Record<string, string>, annotations?: Record<string, string>): Obj {
  return { name, ...(namespace ? { namespace } : {}), labels: lbls, ...(annotations ? { annotations } : {}) };
}

function renderPredictor(sdep: SeldonDeployment, p: Predictor, opts: RenderOptions, namespace: string | undefined): Obj[] {
  const name = k8sName(sdep.metadata.name, p.name);
  const lbls = labels(sdep, p);
  const containers = specContainers(p);
  const root = p.graph;
  const single = !root.children?.length && !BUILTINS[root.implementation ?? ''];
  const out: Obj[] = [];
  const initContainers: Obj[] = [];
  const volumes: Obj[] = [
    { name: 'podinfo', downwardAPI: { items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] } },
  ];
  const mounts: Obj[] = [{ name: 'podinfo', mountPath: '/etc/podinfo', readOnly: true }];
  const identity: EnvVar[] = [
    { name: 'PREDICTOR_ID', value: p.name },
    { name: 'PREDICTOR_LABELS', value: JSON.stringify({ version: p.name, ...(p.labels ?? {}) }) },
    { name: 'SELDON_DEPLOYMENT_ID', value: sdep.metadata.name },
    { name: 'PREDICTIVE_UNIT_HTTP_SERVICE_PORT', value: String(PORTS.http) },
    { name: 'PREDICTIVE_UNIT_GRPC_SERVICE_PORT', value: String(PORTS.grpc) },
    { name: 'PREDICTIVE_UNIT_METRICS_SERVICE_PORT', value: String(PORTS.metrics) },
    { name: 'PREDICTIVE_UNIT_METRICS_ENDPOINT', value: '/prometheus' },
  ];
  const storageInit = (node: PredictiveUnit, dest: string): void => {
    initContainers.push({
      name: k8sName(node.name, 'model-initializer'),
      image: imageRef(STORAGE_INIT_IMAGE, opts),
      args: [node.modelUri, dest],
      volumeMounts: [{ name: MODEL_VOLUME, mountPath: MODEL_DIR }],
      ...(node.envSecretRefName ? { envFrom: [{ secretRef: { name: node.envSecretRefName } }] } : {}),
      resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1', memory: '1Gi' } },
      securityContext: containerSecurity(),
    });
  };
  let main: Obj;
  if (single) {
    // One model: its server image (or the node's own container image, e.g. from `modelfleet build`) runs alone.
    const kind = nodeKind(root, p);
    const own = containers.find((c) => c.name === root.name);
    if (kind.kind === 'remote') throw new ConfigError(`render: node "${root.name}" is an endpoint elsewhere; there is nothing to run`);
    // A Python class with no image of its own runs in the python image, its code fetched from modelUri.
    const image =
      own?.image ?? imageRef(kind.kind === 'server' ? IMAGE_FOR[kind.implementation] : PYTHON_IMAGE, opts);
    const params = [...(root.parameters ?? [])].map((x) => ({ name: x.name, value: String(x.value), type: x.type ?? 'STRING' }));
    if (root.modelUri) {
      storageInit(root, MODEL_DIR);
      if (kind.kind === 'server') params.push({ name: 'model_uri', value: MODEL_DIR, type: 'STRING' });
      mounts.push({ name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true });
    }
    main = container(root.name, image, own, [
      { name: 'PREDICTIVE_UNIT_PARAMETERS', value: JSON.stringify(params) },
      { name: 'PREDICTIVE_UNIT_ID', value: root.name },
      { name: 'PREDICTIVE_UNIT_IMAGE', value: image },
      { name: 'MLSERVER_MODEL_NAME', value: root.name },
      ...(kind.kind === 'class' && root.modelUri ? [{ name: 'MODEL_URI', value: MODEL_DIR }] : []),
      ...identity,
    ]);
  } else {
    // A graph: `modelfleet run` (in the python image, which carries every server) runs it from a ConfigMap, each
    // node's model fetched by its own init container into /mnt/models/<node>.
    const graph = structuredClone(root);
    walk(graph, (n) => {
      if (n.modelUri) {
        const dest = `${MODEL_DIR}/${k8sName(n.name)}`;
        storageInit(n, dest);
        n.modelUri = dest;
      }
    });
    if (initContainers.length) mounts.push({ name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true });
    const doc = {
      apiVersion: sdep.apiVersion,
      kind: 'SeldonDeployment',
      metadata: { name: sdep.metadata.name },
      spec: { ...(sdep.spec.protocol ? { protocol: sdep.spec.protocol } : {}), predictors: [{ ...p, graph, traffic: 100, shadow: false }] },
    };
    const cm = k8sName(name, 'graph');
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(cm, namespace, lbls), data: { 'deployment.yaml': stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }) } });
    volumes.push({ name: 'graph', configMap: { name: cm } });
    mounts.push({ name: 'graph', mountPath: GRAPH_DIR, readOnly: true });
    const own = containers.find((c) => c.name === 'modelfleet') ?? containers.find((c) => c.resources);
    main = container('modelfleet', imageRef(PYTHON_IMAGE, opts), own, identity);
    main.command = ['/usr/bin/tini', '--', '/usr/local/bin/node', '/app/shared/dist/cli.js'];
    main.args = ['run', `${GRAPH_DIR}/deployment.yaml`, '--http-port', String(PORTS.http), '--grpc-port', String(PORTS.grpc)];
  }
  if (initContainers.length) volumes.push({ name: MODEL_VOLUME, emptyDir: {} });
  main.volumeMounts = mounts;
  const replicas = (p as { replicas?: number }).replicas ?? 1;
  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, namespace, lbls),
    spec: {
      replicas,
      selector: { matchLabels: selector(sdep, p) },
      template: {
        metadata: {
          labels: lbls,
          annotations: {
            ...(sdep.spec.annotations ?? {}),
            ...(p.annotations ?? {}),
            'prometheus.io/scrape': 'true',
            'prometheus.io/path': '/prometheus',
            'prometheus.io/port': String(PORTS.metrics),
          },
        },
        spec: {
          // More than the servers' drain timeout (MODELFLEET_DRAIN_TIMEOUT_SECONDS, 20 s) plus the preStop pause.
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsUser: 8888, runAsGroup: 8888, fsGroup: 8888, runAsNonRoot: true },
          ...(initContainers.length ? { initContainers } : {}),
          containers: [main],
          volumes,
        },
      },
    },
  });
  out.push(service(name, namespace, selector(sdep, p), lbls));
  return out;
}

function containerSecurity(): Obj {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}

/** The serving container: ports, probes on the health paths, env (componentSpecs' wins), resources. */
function container(name: string, image: string, own: SpecContainer | undefined, env: EnvVar[]): Obj {
  const ownEnv = own?.env ?? [];
  const merged = [...env.filter((e) => !ownEnv.some((o) => o.name === e.name)), ...ownEnv];
  return {
    name: k8sName(name),
    image,
    ports: [
      { name: 'http', containerPort: PORTS.http, protocol: 'TCP' },
      { name: 'grpc', containerPort: PORTS.grpc, protocol: 'TCP' },
      { name: 'metrics', containerPort: PORTS.metrics, protocol: 'TCP' },
    ],
    env: merged,
    ...(own?.envFrom ? { envFrom: own.envFrom } : {}),
    // Liveness answers while the model loads (ports bind first); readiness only once every worker has loaded it.
    readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 2 },
    livenessProbe: { httpGet: { path: '/v2/health/live', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    // Lets endpoints drop the pod before SIGTERM starts the drain.
    lifecycle: { preStop: { exec: { command: ['/bin/sleep', '5'] } } },
    resources: own?.resources ?? { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '2Gi' } },
    securityContext: containerSecurity(),
  };
}

function service(name: string, namespace: string | undefined, sel: Record<string, string>, lbls: Record<string, string>): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(k8sName(name), namespace, lbls),
    spec: {
      selector: sel,
      ports: [
        { name: 'http', port: PORTS.http, targetPort: 'http', protocol: 'TCP' },
        { name: 'grpc', port: PORTS.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}
