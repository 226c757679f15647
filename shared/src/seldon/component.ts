/**
 * A Seldon unit at the message level: what Seldon's executor calls on every node of a graph (predict,
 * transform-input, transform-output, route, aggregate, send-feedback, health, metadata). A prepackaged server is one
 * (its runtime behind the tensor seam); a user's Python class is one; a whole graph is one; so are built-in units and
 * remote nodes. REST and gRPC serve whichever component a server holds, through the same handlers.
 */

/** A SeldonMessage in proto3-JSON shape (what REST bodies hold; gRPC converts to and from it). */
export type SeldonMessage = Record<string, unknown>;

export interface SeldonFeedback {
  request?: SeldonMessage;
  response?: SeldonMessage;
  truth?: SeldonMessage;
  reward?: number;
}

export interface EncodeOptions {
  /** REST only: numeric data may be pre-serialised JSON (json-numbers RawJson) spliced into the body. */
  rawJson?: boolean;
}

export interface SeldonComponent {
  predict(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage>;
  transformInput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage>;
  transformOutput(message: SeldonMessage, options?: EncodeOptions): Promise<SeldonMessage>;
  /** Answers a message whose data is [[branch]]: -1 all children, -2 none, N child N. */
  route(message: SeldonMessage): Promise<SeldonMessage>;
  aggregate(messages: SeldonMessage[]): Promise<SeldonMessage>;
  sendFeedback(feedback: SeldonFeedback): Promise<SeldonMessage>;
  healthStatus(): Promise<SeldonMessage>;
  /** The Seldon metadata document, when the component has its own (else the server builds it from the runtime). */
  seldonMetadata?(): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** The branch a route answer names: its data is [[n]] (ndarray or tensor form). */
export function routeOf(message: SeldonMessage): number | undefined {
  const data = message.data as { ndarray?: unknown; tensor?: { values?: unknown[] } } | undefined;
  let v: unknown = data?.ndarray ?? data?.tensor?.values;
  while (Array.isArray(v)) v = v[0];
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}
