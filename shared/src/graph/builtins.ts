/**
 * Units the executor runs itself. Seldon's RANDOM_ABTEST (P(child 0) = ratioA), and SIMPLE_MODEL, SIMPLE_ROUTER and
 * AVERAGE_COMBINER, which Seldon's enum names but its executor does not implement: here a constant model, a router
 * that always picks its first child, and an element-wise mean. Beyond Seldon: EPSILON_GREEDY and THOMPSON_SAMPLING
 * routers that learn from the rewards of the feedback sent back along the route they chose.
 */
import { decodeSeldonMessage, emptyData, encodeSeldonData, mergeMeta, responseMeta, type SeldonMeta } from '../codecs/seldon-json.js';
import { badInput, ServingError } from '../errors.js';
import type { EncodeOptions, SeldonComponent, SeldonFeedback, SeldonMessage } from '../seldon/component.js';
import type { Tensor } from '../tensor.js';

type Params = Record<string, unknown>;
const unit = (id: string, image: string) => ({ id, image });

abstract class Builtin implements SeldonComponent {
  constructor(
    protected readonly name: string,
    protected readonly implementation: string,
  ) {}

  protected meta(message: SeldonMessage): SeldonMeta {
    return responseMeta((message.meta ?? {}) as SeldonMeta, unit(this.name, this.implementation));
  }

  async predict(message: SeldonMessage, _options?: EncodeOptions): Promise<SeldonMessage> {
    return { ...message, meta: this.meta(message) };
  }
  async transformInput(message: SeldonMessage): Promise<SeldonMessage> {
    return { ...message, meta: this.meta(message) };
  }
  async transformOutput(message: SeldonMessage): Promise<SeldonMessage> {
    return { ...message, meta: this.meta(message) };
  }
  async route(_message: SeldonMessage): Promise<SeldonMessage> {
    throw new ServingError('unsupported', `${this.implementation} does not route`);
  }
  async aggregate(_messages: SeldonMessage[]): Promise<SeldonMessage> {
    throw new ServingError('unsupported', `${this.implementation} does not aggregate`);
  }
  async sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    return { data: emptyData(), meta: this.meta(feedback.request ?? {}) };
  }
  async healthStatus(): Promise<SeldonMessage> {
    return { strData: 'healthy', meta: {} };
  }
}

/** A constant classifier: [0.1, 0.9, 0.5] per input row, names a, b, c (for wiring graphs before models exist). */
class SimpleModel extends Builtin {
  override async predict(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    const input = decodeSeldonMessage(message);
    const rows = input.tensor ? input.tensor.shape[0] : 1;
    const data = new Float64Array(rows * 3);
    for (let i = 0; i < rows; i++) data.set([0.1, 0.9, 0.5], i * 3);
    const out: Tensor = { name: 'predict', datatype: 'FP64', shape: [rows, 3], data, parameters: { names: ['a', 'b', 'c'] } };
    return { data: encodeSeldonData(out, input.form, options?.rawJson ?? false), meta: this.meta(message) };
  }
}

abstract class Router extends Builtin {
  abstract choose(): number;
  override async route(message: SeldonMessage): Promise<SeldonMessage> {
    return { data: { names: ['t:0'], ndarray: [[this.choose()]] }, meta: this.meta(message) };
  }
}

class SimpleRouter extends Router {
  choose(): number {
    return 0;
  }
}

class RandomAbTest extends Router {
  private readonly ratioA: number;
  constructor(name: string, params: Params, private readonly random: () => number) {
    super(name, 'RANDOM_ABTEST');
    // Seldon: ratioA is used only when it is the node's single parameter; otherwise 0.5.
    const keys = Object.keys(params);
    this.ratioA = keys.length === 1 && keys[0] === 'ratioA' ? Number(params.ratioA) : 0.5;
    if (!(this.ratioA >= 0 && this.ratioA <= 1)) throw new ServingError('bad_input', `RANDOM_ABTEST "${name}": ratioA must be between 0 and 1, got ${String(params.ratioA)}`);
  }
  choose(): number {
    return this.random() < this.ratioA ? 0 : 1;
  }
}

/** A multi-armed bandit over the children: per-branch reward statistics updated from routed feedback. */
abstract class Bandit extends Router {
  protected readonly pulls: number[];
  protected readonly rewards: number[];
  constructor(name: string, implementation: string, protected readonly branches: number, protected readonly random: () => number) {
    super(name, implementation);
    this.pulls = new Array<number>(branches).fill(0);
    this.rewards = new Array<number>(branches).fill(0);
  }

  override async sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    const routing = (feedback.response?.meta as SeldonMeta | undefined)?.routing?.[this.name];
    const reward = feedback.reward ?? 0;
    if (routing !== undefined && routing >= 0 && routing < this.branches) {
      this.pulls[routing]++;
      this.rewards[routing] += reward;
    }
    return super.sendFeedback(feedback);
  }

  override async healthStatus(): Promise<SeldonMessage> {
    return { jsonData: { branches: this.pulls.map((n, i) => ({ pulls: n, meanReward: n ? this.rewards[i] / n : null })) }, meta: {} };
  }
}

/** With probability epsilon a random branch, else the best mean reward so far (untried branches first). */
class EpsilonGreedy extends Bandit {
  private readonly epsilon: number;
  constructor(name: string, params: Params, branches: number, random: () => number) {
    super(name, 'EPSILON_GREEDY', branches, random);
    this.epsilon = params.epsilon === undefined ? 0.1 : Number(params.epsilon);
    if (!(this.epsilon >= 0 && this.epsilon <= 1)) throw badInput(`EPSILON_GREEDY "${name}": epsilon must be between 0 and 1`);
  }
  choose(): number {
    if (this.random() < this.epsilon) return Math.floor(this.random() * this.branches);
    const untried = this.pulls.findIndex((n) => n === 0);
    if (untried >= 0) return untried;
    let best = 0;
    for (let i = 1; i < this.branches; i++) if (this.rewards[i] / this.pulls[i] > this.rewards[best] / this.pulls[best]) best = i;
    return best;
  }
}

/** Beta(1 + successes, 1 + failures) per branch, rewards read as success probabilities in [0, 1]; the highest draw wins. */
class ThompsonSampling extends Bandit {
  constructor(name: string, branches: number, random: () => number) {
    super(name, 'THOMPSON_SAMPLING', branches, random);
  }
  choose(): number {
    let best = 0;
    let bestDraw = -1;
    for (let i = 0; i < this.branches; i++) {
      const success = Math.min(Math.max(this.rewards[i], 0), this.pulls[i]);
      const draw = betaSample(1 + success, 1 + this.pulls[i] - success, this.random);
      if (draw > bestDraw) [best, bestDraw] = [i, draw];
    }
    return best;
  }
}

/** Element-wise mean of the children's numeric outputs, in the first child's form. */
class AverageCombiner extends Builtin {
  override async aggregate(messages: SeldonMessage[]): Promise<SeldonMessage> {
    const inputs = messages.map((m) => decodeSeldonMessage(m));
    const tensors = inputs.map((i) => i.tensor);
    const first = tensors[0];
    if (!first || tensors.some((t) => !t || t.datatype === 'BYTES' || t.shape.join() !== first.shape.join())) {
      throw badInput(`AVERAGE_COMBINER "${this.name}": every child must answer numeric data of one shape, got ${tensors.map((t) => (t ? `[${t.shape}]` : 'no data')).join(', ')}`);
    }
    const out = new Float64Array(first.data.length);
    for (const t of tensors) for (let i = 0; i < out.length; i++) out[i] += Number((t!.data as ArrayLike<number | bigint>)[i]) / tensors.length;
    const names = (messages[0].data as { names?: string[] }).names;
    const tensor: Tensor = { name: 'aggregate', datatype: 'FP64', shape: first.shape, data: out, ...(names?.length ? { parameters: { names } } : {}) };
    const meta = mergeMeta(messages.map((m) => (m.meta ?? {}) as SeldonMeta));
    return { data: encodeSeldonData(tensor, inputs[0].form, false), meta: responseMeta(meta, unit(this.name, this.implementation)) };
  }
}

export function createBuiltin(implementation: string, name: string, params: Params, children: number, random: () => number = Math.random): SeldonComponent {
  switch (implementation) {
    case 'SIMPLE_MODEL':
      return new SimpleModel(name, implementation);
    case 'SIMPLE_ROUTER':
      return new SimpleRouter(name, implementation);
    case 'RANDOM_ABTEST':
      return new RandomAbTest(name, params, random);
    case 'AVERAGE_COMBINER':
      return new AverageCombiner(name, implementation);
    case 'EPSILON_GREEDY':
      return new EpsilonGreedy(name, params, children, random);
    case 'THOMPSON_SAMPLING':
      return new ThompsonSampling(name, children, random);
  }
  throw new Error(`unknown built-in ${implementation}`);
}

/** Gamma(k, 1) by Marsaglia-Tsang (k >= 1 here), and Beta from two Gammas. */
function gammaSample(k: number, random: () => number): number {
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box-Muller normal
      x = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function betaSample(a: number, b: number, random: () => number): number {
  const x = gammaSample(a, random);
  return x / (x + gammaSample(b, random));
}
