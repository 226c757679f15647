/**
 * Payload events: one request, response or feedback payload seen at a logged point (a standalone server's inference
 * route, or a graph node), before it is encoded for a sink.
 */
export type EventKind = 'request' | 'response' | 'feedback';

/** Which CloudEvents vocabulary to speak: Seldon's executor (default) or KServe's agent logger. */
export type EventStyle = 'seldon' | 'kserve';

export type LogMode = 'all' | 'request' | 'response';

export interface PayloadEvent {
  kind: EventKind;
  /** Seldon-Puid / request id: pairs a request with its response. */
  requestId: string;
  /** The node (graph) or model (standalone server) the payload belongs to. */
  modelId: string;
  /** seldon, v2, kserve-v1, tensorflow. */
  protocol: string;
  contentType: string;
  body: string | Buffer;
  /** Epoch ms when the payload was seen. */
  time: number;
}

/** Attributes the same for every event of one logger: who sends them. */
export interface EventSource {
  /** Ce-Source: the sender's URL (Seldon's executor: http://<hostname>:<port>/). */
  source: string;
  inferenceServiceName: string;
  namespace: string;
  /** Seldon: the predictor name; KServe: the endpoint (default, canary). */
  endpoint: string;
  style: EventStyle;
}

const SELDON_TYPES: Record<EventKind, string> = {
  request: 'io.seldon.serving.inference.request',
  response: 'io.seldon.serving.inference.response',
  feedback: 'io.seldon.serving.feedback',
};
const KSERVE_TYPES: Record<EventKind, string> = {
  request: 'org.kubeflow.serving.inference.request',
  response: 'org.kubeflow.serving.inference.response',
  feedback: 'org.kubeflow.serving.inference.feedback',
};

export function eventType(style: EventStyle, kind: EventKind): string {
  return (style === 'kserve' ? KSERVE_TYPES : SELDON_TYPES)[kind];
}

/** Whether a logger in `mode` takes events of `kind` (feedback goes with responses, as in Seldon's executor). */
export function modeTakes(mode: LogMode, kind: EventKind): boolean {
  return mode === 'all' || (mode === 'request' ? kind === 'request' : kind !== 'request');
}
