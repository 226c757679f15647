/**
 * When tracing is on, and where spans go. Off unless asked for: TRACING=1 (Seldon's wrapper), an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), OTEL_TRACES_EXPORTER=otlp, or JAEGER_AGENT_HOST / JAEGER_ENDPOINT;
 * OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none or JAEGER_DISABLED=true turn it off whatever else is set.
 * The remaining OTEL_* variables (headers, timeout, batch processor, sampler) are read by the OpenTelemetry SDK itself;
 * Seldon's JAEGER_* variables are mapped here when no OTEL_* equivalent is set.
 */
import { ConfigError } from '../config/parameters.js';

export interface TracingSettings {
  serviceName: string;
  /** OTLP/HTTP traces URL; undefined = the exporter's own (OTEL_EXPORTER_OTLP_* or http://localhost:4318/v1/traces). */
  url?: string;
  /** A sampler from JAEGER_SAMPLER_TYPE/PARAM when OTEL_TRACES_SAMPLER is unset; else the SDK reads OTEL_TRACES_SAMPLER. */
  jaegerSampler?: { type: 'const' | 'probabilistic'; param: number };
  /** Propagators (OTEL_PROPAGATORS names); by default callers' W3C, B3 and Jaeger headers are all understood. */
  propagators: string[];
  /** B3 headers are written in the multi-header form (JAEGER_TRACE_PROPAGATION_TYPE=b3 in Seldon's executor). */
  b3Multi: boolean;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

export function tracingFromEnv(env: NodeJS.ProcessEnv, defaultServiceName: string): TracingSettings | undefined {
  if (truthy(env.OTEL_SDK_DISABLED) || truthy(env.JAEGER_DISABLED)) return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter && exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER=${exporter}: modelfleet exports OTLP (otlp) or nothing (none)`);
  const otlpSet = !!(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const on = truthy(env.TRACING) || otlpSet || exporter === 'otlp' || !!env.JAEGER_AGENT_HOST || !!env.JAEGER_ENDPOINT;
  if (!on) return undefined;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol && protocol !== 'http/protobuf') {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: modelfleet exports OTLP over HTTP with protobuf (http/protobuf, port 4318)`);
  }
  let url: string | undefined;
  if (!otlpSet) {
    // Jaeger (1.35+) takes OTLP/HTTP on 4318; its agent's UDP ports (JAEGER_AGENT_PORT 5775/6831) speak Thrift,
    // which OpenTelemetry no longer exports, so the agent's host is kept and the port is OTLP's.
    if (env.JAEGER_ENDPOINT) url = env.JAEGER_ENDPOINT;
    else if (env.JAEGER_AGENT_HOST) url = `http://${env.JAEGER_AGENT_HOST === '0.0.0.0' ? 'localhost' : env.JAEGER_AGENT_HOST}:4318/v1/traces`;
  }
  let jaegerSampler: TracingSettings['jaegerSampler'];
  if (!env.OTEL_TRACES_SAMPLER && env.JAEGER_SAMPLER_TYPE) {
    const type = env.JAEGER_SAMPLER_TYPE;
    const param = Number(env.JAEGER_SAMPLER_PARAM ?? 1);
    if (type !== 'const' && type !== 'probabilistic') throw new ConfigError(`JAEGER_SAMPLER_TYPE=${type}: modelfleet maps const and probabilistic (use OTEL_TRACES_SAMPLER for others)`);
    if (!Number.isFinite(param) || param < 0 || param > 1) throw new ConfigError(`JAEGER_SAMPLER_PARAM must be a number from 0 to 1, got "${env.JAEGER_SAMPLER_PARAM}"`);
    jaegerSampler = { type, param };
  }
  const propagators = (env.OTEL_PROPAGATORS ?? 'tracecontext,baggage,b3,jaeger').split(',').map((p) => p.trim()).filter(Boolean);
  const known = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'none'];
  for (const p of propagators) if (!known.includes(p)) throw new ConfigError(`OTEL_PROPAGATORS: unknown propagator "${p}" (known: ${known.join(', ')})`);
  return {
    serviceName: env.OTEL_SERVICE_NAME || env.JAEGER_SERVICE_NAME || defaultServiceName,
    url,
    jaegerSampler,
    propagators,
    b3Multi: env.JAEGER_TRACE_PROPAGATION_TYPE === 'b3' || propagators.includes('b3multi'),
  };
}
