/** Where payload events go, chosen by the logger URL's scheme; sinks are shared per URL within a process. */
import path from 'node:path';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { CloudEventsSink, type CloudEventsOptions } from './cloudevents-sink.js';
import type { EventSource, PayloadEvent } from './events.js';
import { JsonLinesSink, type JsonLinesOptions } from './jsonl-sink.js';

export interface Sink {
  readonly name: string;
  /** Never blocks and never throws: the event is queued, written, or dropped and counted. */
  send(event: PayloadEvent, source: EventSource): void;
  close(timeoutMs?: number): Promise<void>;
}

export class LoggerMetrics {
  readonly sent: Counter<'sink'>;
  readonly failed: Counter<'sink'>;
  readonly dropped: Counter<'sink'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sent = new Counter({ name: 'modelfleet_logger_events_sent_total', help: 'Payload log events delivered to the sink.', labelNames: ['sink'], registers });
    this.failed = new Counter({ name: 'modelfleet_logger_events_failed_total', help: 'Payload log events the sink refused or never answered, after retries.', labelNames: ['sink'], registers });
    this.dropped = new Counter({ name: 'modelfleet_logger_events_dropped_total', help: 'Payload log events dropped because the queue was full.', labelNames: ['sink'], registers });
  }
}

export type SinkOptions = CloudEventsOptions & JsonLinesOptions;

/** One sink per URL: graph nodes logging to the same place share a queue and its senders. */
export class Sinks {
  private readonly byUrl = new Map<string, Sink>();
  readonly metrics: LoggerMetrics;

  constructor(
    registry: Registry,
    private readonly opts: SinkOptions,
    private readonly log: Logger,
  ) {
    this.metrics = new LoggerMetrics(registry);
  }

  get(url: string): Sink {
    let sink = this.byUrl.get(url);
    if (!sink) this.byUrl.set(url, (sink = this.create(url)));
    return sink;
  }

  private create(url: string): Sink {
    if (url === '-' || url === 'stdout' || url === 'stdout:') return new JsonLinesSink(undefined, this.opts, this.metrics, this.log);
    if (url.startsWith('file://')) return new JsonLinesSink(new URL(url).pathname, this.opts, this.metrics, this.log);
    if (path.isAbsolute(url) || url.startsWith('./')) return new JsonLinesSink(path.resolve(url), this.opts, this.metrics, this.log);
    // Seldon resolves bare service names (http://default-broker) in the namespace; DNS does the same here.
    const full = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
    const parsed = new URL(full);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`request logger URL ${url}: use http(s)://, file:///path or "-" (stdout)`);
    return new CloudEventsSink(full, this.opts, this.metrics, this.log);
  }

  async close(timeoutMs?: number): Promise<void> {
    await Promise.allSettled([...this.byUrl.values()].map((s) => s.close(timeoutMs)));
    this.byUrl.clear();
  }
}
