/**
 * Seldon protocol operations on decoded messages, shared by REST and gRPC so both answer alike. Messages are in
 * proto3-JSON shape (what REST bodies hold; the gRPC layer converts protobuf objects to it and back).
 */
import { decodeSeldonMessage, encodeSeldonData, responseMeta, type SeldonMeta } from '../codecs/seldon-json.js';
import { badInput } from '../errors.js';
import type { DataPlane } from '../dataplane.js';
import type { ServerMetrics } from '../metrics/registry.js';

export interface SeldonContext {
  plane: DataPlane;
  metrics: ServerMetrics;
  unit?: { id: string; image: string };
}

/** Predict: the response keeps the request's data form. `rawJson` lets REST splice pre-serialised numbers. */
export async function seldonPredict(ctx: SeldonContext, message: unknown, rawJson: boolean): Promise<Record<string, unknown>> {
  const input = decodeSeldonMessage(message);
  if (!input.tensor) {
    throw badInput(`Invalid request data type: this server needs data.ndarray, data.tensor or data.tftensor, got ${input.form}`);
  }
  const response = await ctx.plane.infer({ inputs: [input.tensor] }, 'seldon');
  return { data: encodeSeldonData(response.outputs[0], input.form, rawJson), meta: responseMeta(input.meta, ctx.unit) };
}

/** Feedback to a prepackaged model: counted (Seldon's reward metrics) and acknowledged with an empty tensor. */
export function seldonFeedback(ctx: SeldonContext, feedback: unknown): Record<string, unknown> {
  if (!feedback || typeof feedback !== 'object' || Array.isArray(feedback)) throw badInput('Invalid JSON: feedback must be an object');
  const { reward, request, response, truth } = feedback as Record<string, unknown>;
  for (const [k, v] of Object.entries({ request, response, truth })) {
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw badInput(`Invalid JSON: feedback.${k} must be a SeldonMessage`);
  }
  if (reward !== undefined && typeof reward !== 'number') throw badInput('Invalid JSON: feedback.reward must be a number');
  if (reward) {
    ctx.metrics.feedback.inc({ method: 'feedback' });
    ctx.metrics.feedbackReward.inc({ method: 'feedback' }, reward);
  }
  const meta: SeldonMeta = request && typeof request === 'object' ? ((request as { meta?: SeldonMeta }).meta ?? {}) : {};
  return { data: { names: [], tensor: { shape: [0], values: [] } }, meta: responseMeta(meta, ctx.unit) };
}

/**
 * transform-input / transform-output on a model with no such hook: Seldon's wrapper answers the message itself
 * (identity), with this unit added to the request path.
 */
export function seldonIdentity(ctx: SeldonContext, message: unknown): Record<string, unknown> {
  const input = decodeSeldonMessage(message);
  const m = message as Record<string, unknown>;
  return { ...m, meta: responseMeta(input.meta, ctx.unit) };
}
