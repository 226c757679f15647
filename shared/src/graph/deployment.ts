/**
 * SeldonDeployment documents (machinelearning.seldon.io v1, v1alpha2, v1alpha3): parsed and checked before anything
 * starts, with the rules Seldon's admission webhook applies (traffic, shadows, names) and the ones running a graph
 * on one machine needs (every node must be something we can run or reach).
 */
import { parseAllDocuments } from 'yaml';
import { ConfigError, convertParameter } from '../config/parameters.js';
import { SERVERS } from '../registry.js';

const NODE_TYPES = ['MODEL', 'TRANSFORMER', 'OUTPUT_TRANSFORMER', 'ROUTER', 'COMBINER'] as const;
export type NodeType = (typeof NODE_TYPES)[number];
const METHODS = ['TRANSFORM_INPUT', 'TRANSFORM_OUTPUT', 'ROUTE', 'AGGREGATE', 'SEND_FEEDBACK'] as const;
export type Method = (typeof METHODS)[number];
/** Units the executor runs itself: Seldon's built-ins, and learning routers beyond Seldon. */
export const BUILTINS: Record<string, NodeType> = {
  SIMPLE_MODEL: 'MODEL',
  SIMPLE_ROUTER: 'ROUTER',
  RANDOM_ABTEST: 'ROUTER',
  AVERAGE_COMBINER: 'COMBINER',
  EPSILON_GREEDY: 'ROUTER',
  THOMPSON_SAMPLING: 'ROUTER',
};

export interface Endpoint {
  service_host?: string;
  service_port?: number;
  type?: 'REST' | 'GRPC';
  httpPort?: number;
  grpcPort?: number;
}

export interface PredictiveUnit {
  name: string;
  type?: string;
  implementation?: string;
  methods?: string[];
  children?: PredictiveUnit[];
  endpoint?: Endpoint;
  parameters?: Array<{ name: string; value: unknown; type?: string }>;
  modelUri?: string;
  envSecretRefName?: string;
  /** Payload logging of this node's input and output (Seldon's executor logger). */
  logger?: { mode?: string; url?: string };
}

export interface Container {
  name: string;
  image?: string;
  env?: Array<{ name: string; value?: string }>;
}

export interface Predictor {
  name: string;
  graph: PredictiveUnit;
  traffic?: number;
  shadow?: boolean;
  componentSpecs?: Array<{ spec?: { containers?: Container[] } }>;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface SeldonDeployment {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: { name?: string; predictors: Predictor[]; protocol?: string; transport?: string; annotations?: Record<string, string> };
}

/** How a node is run, decided at validation. */
export type NodeKind =
  | { kind: 'builtin'; implementation: string }
  | { kind: 'server'; implementation: string }
  | { kind: 'class'; interfaceName: string; container: Container }
  | { kind: 'remote'; endpoint: Required<Pick<Endpoint, 'type'>> & { host: string; port: number } };

const API_VERSIONS = ['machinelearning.seldon.io/v1', 'machinelearning.seldon.io/v1alpha2', 'machinelearning.seldon.io/v1alpha3'];

export class DeploymentError extends ConfigError {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DeploymentError';
  }
}

/** Reads the SeldonDeployment in a YAML (or JSON) text; every problem found is reported at once. */
export function parseDeployment(text: string, source = 'deployment'): SeldonDeployment {
  const docs = parseAllDocuments(text);
  const problems: string[] = [];
  const values: unknown[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length) problems.push(`${source}: invalid YAML: ${d.errors[0].message.split('\n')[0]}`);
    else values.push(d.toJS());
  }
  if (problems.length) throw new DeploymentError(problems);
  const sdeps = values.filter((v) => v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'SeldonDeployment');
  if (sdeps.length !== 1) {
    throw new DeploymentError([`${source}: expected one document of kind SeldonDeployment, found ${sdeps.length}`]);
  }
  const sdep = sdeps[0] as SeldonDeployment;
  validate(sdep);
  return sdep;
}

export function nodeType(node: PredictiveUnit): NodeType {
  if (node.type && node.type !== 'UNKNOWN_TYPE') return node.type as NodeType;
  if (node.implementation && BUILTINS[node.implementation]) return BUILTINS[node.implementation];
  return 'MODEL';
}

/** What the executor asks of a node: its type's calls, or exactly the listed methods (Seldon's rule). */
export function nodeMethods(node: PredictiveUnit): Set<Method> {
  if (node.methods?.length) return new Set(node.methods as Method[]);
  switch (nodeType(node)) {
    case 'MODEL':
      return new Set(['TRANSFORM_INPUT', 'SEND_FEEDBACK']);
    case 'TRANSFORMER':
      return new Set(['TRANSFORM_INPUT']);
    case 'OUTPUT_TRANSFORMER':
      return new Set(['TRANSFORM_OUTPUT']);
    case 'ROUTER':
      return new Set(['ROUTE', 'SEND_FEEDBACK']);
    case 'COMBINER':
      return new Set(['AGGREGATE']);
    default:
      return new Set(); // an unknown type is reported by validation
  }
}

/** How a node runs: an endpoint is called; a built-in or prepackaged implementation runs here; else the container
 * of the same name must be a Python class (its MODEL_NAME env, as Seldon's s2i images have it). */
export function nodeKind(node: PredictiveUnit, predictor: Predictor): NodeKind {
  if (node.endpoint && (node.endpoint.service_port || node.endpoint.httpPort || node.endpoint.grpcPort)) {
    const type = (node.endpoint.type ?? 'REST').toUpperCase() as 'REST' | 'GRPC';
    const port = node.endpoint.service_port ?? (type === 'GRPC' ? node.endpoint.grpcPort : node.endpoint.httpPort)!;
    return { kind: 'remote', endpoint: { type, host: node.endpoint.service_host ?? 'localhost', port } };
  }
  const impl = node.implementation;
  if (impl && impl !== 'UNKNOWN_IMPLEMENTATION') {
    if (BUILTINS[impl]) return { kind: 'builtin', implementation: impl };
    return { kind: 'server', implementation: impl };
  }
  const container = predictor.componentSpecs?.flatMap((c) => c.spec?.containers ?? []).find((c) => c.name === node.name);
  const modelName = container?.env?.find((e) => e.name === 'MODEL_NAME')?.value;
  if (container && modelName) return { kind: 'class', interfaceName: modelName, container };
  throw new DeploymentError([
    `node "${node.name}": nothing to run — give it an implementation (${[...Object.keys(SERVERS), ...Object.keys(BUILTINS)].join(', ')}), ` +
      `an endpoint, or a container named "${node.name}" in componentSpecs whose env sets MODEL_NAME (a Python class)`,
  ]);
}

function validate(sdep: SeldonDeployment): void {
  const problems: string[] = [];
  if (!API_VERSIONS.includes(sdep.apiVersion)) problems.push(`apiVersion must be one of ${API_VERSIONS.join(', ')}, got "${sdep.apiVersion}"`);
  if (!sdep.metadata?.name) problems.push('metadata.name is required');
  const spec = sdep.spec;
  if (!spec || !Array.isArray(spec.predictors) || spec.predictors.length === 0) {
    throw new DeploymentError([...problems, 'spec.predictors must list at least one predictor']);
  }
  if (spec.protocol && spec.protocol !== 'seldon') problems.push(`spec.protocol "${spec.protocol}": modelfleet run executes Seldon-protocol graphs (protocol: seldon)`);
  if (spec.transport && !['rest', 'grpc'].includes(spec.transport)) problems.push(`spec.transport must be rest or grpc, got "${spec.transport}"`);
  const names = new Set<string>();
  for (const [i, p] of spec.predictors.entries()) {
    const where = `predictor ${p?.name ? `"${p.name}"` : `#${i}`}`;
    if (!p?.name) problems.push(`${where}: name is required`);
    else if (names.has(p.name)) problems.push(`${where}: duplicate predictor name`);
    else names.add(p.name);
    if (p.traffic !== undefined && (!Number.isInteger(p.traffic) || p.traffic < 0 || p.traffic > 100)) problems.push(`${where}: traffic must be an integer from 0 to 100, got ${p.traffic}`);
    if (!p?.graph) {
      problems.push(`${where}: graph is required`);
      continue;
    }
    const nodeNames = new Set<string>();
    const walk = (node: PredictiveUnit, path: string) => {
      if (!node || typeof node !== 'object' || !node.name) {
        problems.push(`${where}: ${path}: every graph node needs a name`);
        return;
      }
      const at = `${where}, node "${node.name}"`;
      if (nodeNames.has(node.name)) problems.push(`${at}: duplicate node name in the graph`);
      nodeNames.add(node.name);
      if (node.type && node.type !== 'UNKNOWN_TYPE' && !NODE_TYPES.includes(node.type as NodeType)) problems.push(`${at}: type must be one of ${NODE_TYPES.join(', ')}, got "${node.type}"`);
      for (const m of node.methods ?? []) if (!METHODS.includes(m as Method)) problems.push(`${at}: unknown method "${m}" (one of ${METHODS.join(', ')})`);
      if (node.logger !== undefined) {
        const l = node.logger as { mode?: unknown; url?: unknown } | null;
        if (!l || typeof l !== 'object' || !['all', 'request', 'response'].includes(l.mode as string)) problems.push(`${at}: logger.mode must be all, request or response`);
        else if (l.url !== undefined && typeof l.url !== 'string') problems.push(`${at}: logger.url must be a string`);
      }
      for (const prm of node.parameters ?? []) {
        try {
          convertParameter(prm.name, prm.value, prm.type ?? 'STRING');
        } catch (err) {
          problems.push(`${at}: ${(err as Error).message}`);
        }
      }
      if (node.implementation && !BUILTINS[node.implementation] && node.implementation !== 'UNKNOWN_IMPLEMENTATION' && !SERVERS[node.implementation]) {
        problems.push(`${at}: unknown implementation "${node.implementation}" (known: ${[...Object.keys(SERVERS), ...Object.keys(BUILTINS)].join(', ')})`);
      } else {
        try {
          nodeKind(node, p);
        } catch (err) {
          problems.push(`${at}: ${(err as DeploymentError).problems?.[0]?.replace(/^node "[^"]+": /, '') ?? (err as Error).message}`);
        }
      }
      const children = node.children ?? [];
      const methods = nodeMethods(node);
      if (methods.has('ROUTE') && children.length === 0) problems.push(`${at}: a router needs children to route to`);
      if (methods.has('AGGREGATE') && children.length === 0) problems.push(`${at}: a combiner needs children to aggregate`);
      if (node.implementation === 'RANDOM_ABTEST' && children.length !== 2) problems.push(`${at}: RANDOM_ABTEST routes between exactly two children, got ${children.length}`);
      children.forEach((c, k) => walk(c, `${path}.children[${k}]`));
    };
    walk(p.graph, 'graph');
  }
  const live = spec.predictors.filter((p) => !p.shadow);
  const shadows = spec.predictors.filter((p) => p.shadow);
  if (shadows.length > 1) problems.push(`at most one predictor may be a shadow, found ${shadows.length}`);
  if (live.length === 0) problems.push('a shadow predictor cannot be the only predictor');
  if (live.length > 1) {
    const sum = live.reduce((a, p) => a + (p.traffic ?? 0), 0);
    if (sum !== 100) problems.push(`traffic of the predictors must sum to 100, got ${sum} (${live.map((p) => `${p.name}: ${p.traffic ?? 0}`).join(', ')})`);
  } else if (live.length === 1 && live[0].traffic !== undefined && live[0].traffic !== 0 && live[0].traffic !== 100) {
    problems.push(`a single predictor takes all traffic: traffic must be 0 or 100, got ${live[0].traffic}`);
  }
  if (problems.length) throw new DeploymentError(problems);
}

/** A node's parameters, typed. */
export function nodeParameters(node: PredictiveUnit): Array<{ name: string; value: unknown }> {
  return (node.parameters ?? []).map((p) => ({ name: p.name, value: convertParameter(p.name, p.value, p.type ?? 'STRING') }));
}
