/**
 * A server's request logging: the shared sinks, the settings, and the server's own logger when MODELFLEET_LOGGER_URL
 * is set. The Ce-Source URL is known only once the HTTP port is bound (setPort).
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { RequestLoggerSettings } from './config.js';
import type { EventSource, LogMode } from './events.js';
import { PayloadLogger } from './payload-logger.js';
import { Sinks } from './sink.js';

export { PayloadLogger, skipRequested, withoutLogging, SKIP_HEADER } from './payload-logger.js';
export type { RequestLoggerSettings } from './config.js';

export class RequestLogging {
  readonly sinks: Sinks;
  private readonly sources: EventSource[] = [];
  private port = 0;
  /** The standalone server's logger, when configured. */
  readonly server?: PayloadLogger;

  constructor(
    readonly settings: RequestLoggerSettings,
    registry: Registry,
    log: Logger,
    identity: { inferenceServiceName: string; endpoint: string },
  ) {
    this.sinks = new Sinks(registry, settings.sink, log.child('request-logger'));
    if (settings.url) this.server = this.logger(settings.url, settings.mode, identity);
  }

  /** A logger for a graph node (`logger: {mode, url}`) or the server; url undefined = the default endpoint. */
  logger(url: string | undefined, mode: LogMode, identity: { inferenceServiceName: string; endpoint: string; namespace?: string }): PayloadLogger {
    const source: EventSource = {
      source: this.sourceUrl(),
      inferenceServiceName: identity.inferenceServiceName,
      namespace: identity.namespace || this.settings.namespace,
      endpoint: identity.endpoint,
      style: this.settings.style,
    };
    this.sources.push(source);
    return new PayloadLogger(this.sinks.get(url || this.settings.defaultUrl), mode, source);
  }

  setPort(port: number): void {
    this.port = port;
    for (const s of this.sources) s.source = this.sourceUrl();
  }

  private sourceUrl(): string {
    return `http://${this.settings.hostname}:${this.port}/`;
  }

  close(timeoutMs?: number): Promise<void> {
    return this.sinks.close(timeoutMs);
  }
}
