/** The OpenTelemetry SDK behind the Tracer seam; loaded only when tracing is on. */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { JaegerPropagator } from '@opentelemetry/propagator-jaeger';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-base';
import type { Carrier, Tracer } from './index.js';
import type { TracingSettings } from './config.js';

const getter = {
  keys: (c: Carrier) => Object.keys(c),
  get: (c: Carrier, key: string) => {
    const v = c[key.toLowerCase()];
    if (Buffer.isBuffer(v)) return v.toString();
    return v as string | string[] | undefined;
  },
};

function propagator(s: TracingSettings): TextMapPropagator {
  const list: TextMapPropagator[] = [];
  // Order matters on extraction only when a caller sends several kinds: the later one wins, so W3C goes last.
  for (const name of s.propagators) {
    if (name === 'jaeger') list.unshift(new JaegerPropagator());
    else if (name === 'b3' || name === 'b3multi') {
      if (!list.some((p) => p instanceof B3Propagator)) list.unshift(new B3Propagator({ injectEncoding: s.b3Multi ? B3InjectEncoding.MULTI_HEADER : B3InjectEncoding.SINGLE_HEADER }));
    } else if (name === 'baggage') list.push(new W3CBaggagePropagator());
    else if (name === 'tracecontext') list.push(new W3CTraceContextPropagator());
  }
  return new CompositePropagator({ propagators: list });
}

function sampler(s: TracingSettings): Sampler | undefined {
  const j = s.jaegerSampler;
  if (!j) return undefined; // the SDK reads OTEL_TRACES_SAMPLER / _ARG (default parentbased_always_on)
  const root = j.type === 'const' ? (j.param >= 1 ? new AlwaysOnSampler() : new AlwaysOffSampler()) : new TraceIdRatioBasedSampler(j.param);
  return new ParentBasedSampler({ root });
}

export function createOtelTracer(s: TracingSettings): Tracer {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const prop = propagator(s);
  propagation.setGlobalPropagator(prop);
  const exporter = new OTLPTraceExporter(s.url ? { url: s.url } : {});
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': s.serviceName }),
    ...(sampler(s) ? { sampler: sampler(s) } : {}),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  const t = provider.getTracer('modelfleet');

  const run = async <T>(span: Span, fn: (span: Span) => Promise<T>, ctx = context.active()): Promise<T> => {
    try {
      return await context.with(trace.setSpan(ctx, span), () => fn(span));
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  };

  return {
    server(name, carrier, attributes, fn) {
      const parent = prop.extract(context.active(), carrier, getter);
      return run(t.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent), fn, parent);
    },
    internal(name, attributes, fn) {
      return run(t.startSpan(name, { kind: SpanKind.INTERNAL, attributes }), fn);
    },
    client(name, attributes, fn) {
      const span = t.startSpan(name, { kind: SpanKind.CLIENT, attributes });
      return run(span, (sp) => fn((carrier) => prop.inject(trace.setSpan(context.active(), sp), carrier, { set: (c, k, v) => (c[k] = v) }), sp));
    },
    annotate(attributes) {
      trace.getActiveSpan()?.setAttributes(attributes);
    },
    shutdown: () => provider.shutdown(),
  };
}
