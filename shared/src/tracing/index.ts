/**
 * Tracing's seam: call sites ask tracer() and do nothing when it is undefined, which is always unless tracing was
 * configured. Off, no OpenTelemetry module is even loaded (otel.ts is imported on start only when on).
 */
import type { Attributes, Span } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import type { TracingSettings } from './config.js';

export type { TracingSettings } from './config.js';
export { tracingFromEnv } from './config.js';

/** Headers (lower-case names) or gRPC metadata as a map. */
/** SpanStatusCode.ERROR, without loading @opentelemetry/api when tracing is off. */
export const SPAN_ERROR = 2;

export type Carrier = Record<string, string | string[] | Buffer | undefined>;

export interface Tracer {
  /** A SERVER span continuing the caller's trace (W3C traceparent, B3 or Jaeger uber-trace-id in `carrier`). */
  server<T>(name: string, carrier: Carrier, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T>;
  /** An INTERNAL span under the current one (a graph node). */
  internal<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T>;
  /** A CLIENT span; `inject` writes its context into the outgoing headers or metadata. */
  client<T>(name: string, attributes: Attributes, fn: (inject: (carrier: Record<string, string>) => void, span: Span) => Promise<T>): Promise<T>;
  /** Adds attributes to the current span, when there is one. */
  annotate(attributes: Attributes): void;
  shutdown(): Promise<void>;
}

let active: Tracer | undefined;

export function tracer(): Tracer | undefined {
  return active;
}

/** Sets up the process's tracer (once; later calls keep the first). */
export async function startTracing(settings: TracingSettings | undefined, log: Logger): Promise<void> {
  if (!settings || active) return;
  const { createOtelTracer } = await import('./otel.js');
  active = createOtelTracer(settings);
  log.info(`tracing on: service ${settings.serviceName}, OTLP/HTTP to ${settings.url ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'}`);
}

/** Sends the spans still buffered. */
export async function stopTracing(): Promise<void> {
  await active?.shutdown();
}
