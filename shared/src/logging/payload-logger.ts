/**
 * What a logged point (a standalone server's inference route, a graph node) calls: the mode decides which payloads
 * go, the sink takes them without ever blocking. `Seldon-Skip-Logging: true` on a request turns logging off for
 * everything that request causes, graph nodes included (carried in async context, set only when the header is).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { modeTakes, type EventKind, type EventSource, type LogMode } from './events.js';
import type { Sink } from './sink.js';

export class PayloadLogger {
  constructor(
    private readonly sink: Sink,
    readonly mode: LogMode,
    readonly source: EventSource,
  ) {}

  takes(kind: EventKind): boolean {
    return modeTakes(this.mode, kind) && skipped.getStore() !== true;
  }

  log(kind: EventKind, requestId: string, modelId: string, protocol: string, contentType: string, body: string | Buffer): void {
    if (!this.takes(kind)) return;
    this.sink.send({ kind, requestId, modelId, protocol, contentType, body, time: Date.now() }, this.source);
  }
}

const skipped = new AsyncLocalStorage<boolean>();

export const SKIP_HEADER = 'seldon-skip-logging';

/** Header (or gRPC metadata) value of Seldon-Skip-Logging: a boolean, as Go's strconv.ParseBool reads it. */
export function skipRequested(value: unknown): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' && /^(true|t|1)$/i.test(v.trim());
}

/** Runs `fn` with payload logging off for everything it does. */
export function withoutLogging<T>(fn: () => T): T {
  return skipped.run(true, fn);
}
