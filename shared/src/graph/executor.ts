/**
 * One predictor's graph, executed as Seldon's executor does (reference §7.2): per node, transform-input (MODEL ->
 * predict, TRANSFORMER -> transform-input), then route (ROUTER: -1 all children, -2 stop, N child N; others all),
 * the children in parallel, aggregate (COMBINER; else the first child's answer), transform-output. Routing decisions
 * are returned in meta.routing (Seldon needs SELDON_ENABLE_ROUTING_INJECTION for that; feedback to routers depends on
 * it), feedback is sent back along the route taken, and a node's error passes through with its status.
 */
import type { Histogram } from 'prom-client';
import { splitImage } from '../config/settings.js';
import { asServingError, badInput, httpStatusOf, internal } from '../errors.js';
import { routeOf, type SeldonComponent, type SeldonFeedback, type SeldonMessage } from '../seldon/component.js';
import { nodeMethods, nodeType, type Method, type NodeType, type PredictiveUnit } from './deployment.js';
import { stringify } from '../codecs/json-numbers.js';
import type { PayloadLogger } from '../logging/index.js';
import { tracer } from '../tracing/index.js';

export interface GraphNode {
  name: string;
  image: string;
  type: NodeType;
  methods: Set<Method>;
  component: SeldonComponent;
  children: GraphNode[];
  /** The node's `logger`, when it has one. */
  log?: PayloadLogger;
}

export function buildNode(
  unit: PredictiveUnit,
  components: Map<string, { component: SeldonComponent; image: string }>,
  loggerOf: (unit: PredictiveUnit) => PayloadLogger | undefined = () => undefined,
): GraphNode {
  const c = components.get(unit.name)!;
  return {
    log: loggerOf(unit),
    name: unit.name,
    image: c.image,
    type: nodeType(unit),
    methods: nodeMethods(unit),
    component: c.component,
    children: (unit.children ?? []).map((child) => buildNode(child, components, loggerOf)),
  };
}

type Meta = { routing?: Record<string, number>; puid?: string; [k: string]: unknown };

export class GraphExecutor {
  /** Each node's client-metric labels, made once: every call to the node is timed with them. */
  private readonly nodeLabels = new Map<GraphNode, Record<string, string>>();

  constructor(
    readonly root: GraphNode,
    private readonly clientSeconds: Histogram,
    /** deployment_name, predictor_name, predictor_version */
    labels: Record<string, string>,
  ) {
    for (const node of this.nodes()) {
      const image = splitImage(node.image);
      this.nodeLabels.set(node, { ...labels, model_name: node.name, model_image: image.name, model_version: image.version ?? '' });
    }
  }

  /** Times one call to a node, labelled as Seldon's executor labels its client metric. */
  private async timed<T>(node: GraphNode, service: string, fn: () => Promise<T>): Promise<T> {
    const end = this.clientSeconds.startTimer({ ...this.nodeLabels.get(node), service });
    try {
      const out = await fn();
      end({ code: '200' });
      return out;
    } catch (err) {
      end({ code: String(httpStatusOf(asServingError(err))) });
      throw err;
    }
  }

  async predict(message: SeldonMessage): Promise<SeldonMessage> {
    const routing: Record<string, number> = {};
    const out = await this.node(this.root, message, routing);
    const meta = { ...((out.meta ?? {}) as Meta) };
    if (Object.keys(routing).length) meta.routing = { ...meta.routing, ...routing };
    return { ...out, meta };
  }

  private async node(node: GraphNode, input: SeldonMessage, routing: Record<string, number>): Promise<SeldonMessage> {
    const t = tracer();
    if (t) {
      const attributes = { 'seldon.node': node.name, 'seldon.node.type': node.type, 'seldon.node.image': node.image, 'seldon.puid': String((input.meta as Meta | undefined)?.puid ?? '') };
      return t.internal(`node ${node.name}`, attributes, () => this.nodeBody(node, input, routing));
    }
    return this.nodeBody(node, input, routing);
  }

  private nodeBody(node: GraphNode, input: SeldonMessage, routing: Record<string, number>): Promise<SeldonMessage> {
    return node.log ? this.logged(node, node.log, input, routing) : this.unlogged(node, input, routing);
  }

  /** Seldon's executor logs each logged node's input and output, paired by the request's puid. */
  private async logged(node: GraphNode, log: PayloadLogger, input: SeldonMessage, routing: Record<string, number>): Promise<SeldonMessage> {
    const puid = String((input.meta as Meta | undefined)?.puid ?? '');
    if (log.takes('request')) log.log('request', puid, node.name, 'seldon', 'application/json', stringify(input));
    const out = await this.unlogged(node, input, routing);
    if (log.takes('response')) log.log('response', puid, node.name, 'seldon', 'application/json', stringify(out));
    return out;
  }

  private async unlogged(node: GraphNode, input: SeldonMessage, routing: Record<string, number>): Promise<SeldonMessage> {
    let message = input;
    // A MODEL predicts (and, with children, feeds them); a TRANSFORMER or a node listing TRANSFORM_INPUT transforms.
    if (node.type === 'MODEL') message = await this.timed(node, '/predict', () => node.component.predict(message));
    else if (node.methods.has('TRANSFORM_INPUT')) message = await this.timed(node, '/transform-input', () => node.component.transformInput(message));
    if (!node.children.length) return message;
    let branch = -1;
    if (node.methods.has('ROUTE')) {
      const answer = await this.timed(node, '/route', () => node.component.route(message));
      const r = routeOf(answer);
      if (r === undefined) throw internal(`router "${node.name}" answered no integer route`);
      branch = r;
      routing[node.name] = branch;
    }
    if (branch === -2) return message;
    if (branch < -2 || branch >= node.children.length) {
      throw internal(`router "${node.name}" chose branch ${branch}, but it has ${node.children.length} children`);
    }
    const targets = branch === -1 ? node.children : [node.children[branch]];
    const results = await Promise.all(targets.map((child) => this.node(child, message, routing)));
    let merged = node.methods.has('AGGREGATE')
      ? await this.timed(node, '/aggregate', () => node.component.aggregate(results))
      : results[0];
    if (node.methods.has('TRANSFORM_OUTPUT')) merged = await this.timed(node, '/transform-output', () => node.component.transformOutput(merged));
    return merged;
  }

  /** Feedback to MODEL and ROUTER nodes along the route recorded in response.meta.routing (missing: every child). */
  async feedback(feedback: SeldonFeedback): Promise<SeldonMessage | undefined> {
    if (feedback.reward !== undefined && feedback.reward !== null && typeof feedback.reward !== 'number') throw badInput('feedback.reward must be a number');
    return this.feedbackNode(this.root, feedback);
  }

  private async feedbackNode(node: GraphNode, feedback: SeldonFeedback): Promise<SeldonMessage | undefined> {
    if (node.log?.takes('feedback')) {
      const puid = String(((feedback.response?.meta ?? feedback.request?.meta ?? {}) as Meta).puid ?? '');
      node.log.log('feedback', puid, node.name, 'seldon', 'application/json', stringify(feedback));
    }
    const own = node.methods.has('SEND_FEEDBACK') ? await this.timed(node, '/send-feedback', () => node.component.sendFeedback(feedback)) : undefined;
    const routed = ((feedback.response?.meta ?? {}) as Meta).routing?.[node.name];
    const targets = routed === undefined || routed === -1 ? node.children : routed >= 0 && routed < node.children.length ? [node.children[routed]] : [];
    const results = await Promise.all(targets.map((child) => this.feedbackNode(child, feedback)));
    return own ?? results.find((r) => r !== undefined);
  }

  /** Every node of the graph, root first. */
  nodes(): GraphNode[] {
    const out: GraphNode[] = [];
    const walk = (n: GraphNode) => {
      out.push(n);
      n.children.forEach(walk);
    };
    walk(this.root);
    return out;
  }
}
