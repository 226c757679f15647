/**
 * Seldon protocol operations on decoded messages, shared by REST and gRPC so both answer alike. Messages are in
 * proto3-JSON shape (what REST bodies hold; the gRPC layer converts protobuf objects to it and back). A runtime with
 * its own message-level hooks (a user's Python class) answers them itself; any other runtime is served as a
 * prepackaged model: predict through the tensor seam, transforms as identity, no route or aggregate.
 */
import { decodeSeldonMessage, encodeSeldonData, responseMeta, type SeldonMeta } from '../codecs/seldon-json.js';
import { badInput } from '../errors.js';
import type { DataPlane } from '../dataplane.js';
import type { ServerMetrics } from '../metrics/registry.js';
import type { EncodeOptions, SeldonComponent, SeldonFeedback, SeldonMessage } from '../seldon/component.js';

export interface SeldonContext {
  plane: DataPlane;
  metrics: ServerMetrics;
  unit?: { id: string; image: string };
}

const prepackaged = new WeakMap<SeldonContext, PrepackagedComponent>();

/** The component that answers Seldon calls on this server. */
export function seldonComponent(ctx: SeldonContext): SeldonComponent {
  const own = ctx.plane.component();
  if (own) return own;
  let c = prepackaged.get(ctx);
  if (!c) prepackaged.set(ctx, (c = new PrepackagedComponent(ctx)));
  return c;
}

export async function seldonPredict(ctx: SeldonContext, message: unknown, rawJson: boolean): Promise<SeldonMessage> {
  return seldonComponent(ctx).predict(asMessage(message), { rawJson });
}

export async function seldonTransformInput(ctx: SeldonContext, message: unknown, rawJson: boolean): Promise<SeldonMessage> {
  return seldonComponent(ctx).transformInput(asMessage(message), { rawJson });
}

export async function seldonTransformOutput(ctx: SeldonContext, message: unknown, rawJson: boolean): Promise<SeldonMessage> {
  return seldonComponent(ctx).transformOutput(asMessage(message), { rawJson });
}

export async function seldonRoute(ctx: SeldonContext, message: unknown): Promise<SeldonMessage> {
  return seldonComponent(ctx).route(asMessage(message));
}

/** Aggregate takes a JSON list of messages or {"seldonMessages": [...]} (SeldonMessageList). */
export async function seldonAggregate(ctx: SeldonContext, body: unknown): Promise<SeldonMessage> {
  const list = Array.isArray(body) ? body : (body as { seldonMessages?: unknown } | null)?.seldonMessages;
  if (!Array.isArray(list)) throw badInput('aggregate takes a JSON list of SeldonMessages or {"seldonMessages": [...]}');
  return seldonComponent(ctx).aggregate(list.map(asMessage));
}

export async function seldonFeedback(ctx: SeldonContext, body: unknown): Promise<SeldonMessage> {
  const feedback = checkFeedback(body);
  if (feedback.reward) {
    ctx.metrics.feedback.inc({ method: 'feedback' });
    // A counter cannot go down: a negative reward (a penalty, which routers still get) is counted as feedback only.
    if (feedback.reward > 0) ctx.metrics.feedbackReward.inc({ method: 'feedback' }, feedback.reward);
  }
  return seldonComponent(ctx).sendFeedback(feedback);
}

export async function seldonHealth(ctx: SeldonContext): Promise<SeldonMessage> {
  return seldonComponent(ctx).healthStatus();
}

function asMessage(m: unknown): SeldonMessage {
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw badInput('Invalid request data type: the body must be a JSON object (a SeldonMessage)');
  return m as SeldonMessage;
}

export function checkFeedback(feedback: unknown): SeldonFeedback {
  if (!feedback || typeof feedback !== 'object' || Array.isArray(feedback)) throw badInput('Invalid JSON: feedback must be an object');
  const { reward, request, response, truth } = feedback as Record<string, unknown>;
  for (const [k, v] of Object.entries({ request, response, truth })) {
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw badInput(`Invalid JSON: feedback.${k} must be a SeldonMessage`);
  }
  if (reward !== undefined && reward !== null && typeof reward !== 'number') throw badInput('Invalid JSON: feedback.reward must be a number');
  // 1e400 parses as Infinity: a counter cannot take it, and Seldon's float field cannot hold it either.
  if (typeof reward === 'number' && !Number.isFinite(reward)) throw badInput(`Invalid JSON: feedback.reward must be a finite number, got ${reward}`);
  return feedback as SeldonFeedback;
}

/** A model served through the tensor seam (every prepackaged server). */
export class PrepackagedComponent implements SeldonComponent {
  constructor(private readonly ctx: SeldonContext) {}

  async predict(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    const input = decodeSeldonMessage(message);
    if (!input.tensor) {
      throw badInput(`Invalid request data type: this server needs data.ndarray, data.tensor or data.tftensor, got ${input.form}`);
    }
    const response = await this.ctx.plane.infer({ inputs: [input.tensor] }, 'seldon');
    return { data: encodeSeldonData(response.outputs[0], input.form, options?.rawJson ?? false), meta: responseMeta(input.meta, this.ctx.unit) };
  }

  /**
   * A prepackaged model has no transform hooks: Seldon's wrapper answers the message itself, path extended, and (as
   * it re-encodes the data) numeric data of rank >= 2 gains column names (the request's, else t:0..t:n-1).
   */
  async transformInput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    const input = decodeSeldonMessage(message);
    const meta = responseMeta(input.meta, this.ctx.unit);
    if (!input.tensor || input.oneD) return { ...message, meta };
    const data = encodeSeldonData(input.tensor, input.form, options?.rawJson ?? false);
    return { ...message, data, meta };
  }

  transformOutput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage> {
    return this.transformInput(message, options);
  }

  /** Seldon's prepackaged servers answer route and aggregate with a 400 MICROSERVICE_BAD_DATA, not a 501. */
  async route(): Promise<SeldonMessage> {
    throw badInput('Route not defined: this model is not a router');
  }

  async aggregate(): Promise<SeldonMessage> {
    throw badInput('Aggregate not defined: this model is not a combiner');
  }

  /** Acknowledged with an empty ndarray, as Seldon's prepackaged servers answer (the reward was counted by the handler). */
  async sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage> {
    const meta: SeldonMeta = (feedback.request?.meta as SeldonMeta | undefined) ?? {};
    return { data: { ndarray: [] }, meta: responseMeta(meta, this.ctx.unit) };
  }

  async healthStatus(): Promise<SeldonMessage> {
    this.ctx.plane.metadata(); // throws not-ready (503) while loading or stopping
    return { meta: {}, strData: 'healthy' };
  }
}
