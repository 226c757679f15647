/**
 * CloudEvents 1.0 in binary HTTP mode, as Seldon's executor and KServe's agent send payload logs: attributes as
 * Ce-* headers, the payload as the body with its own content type. The headers are written here rather than with
 * the `cloudevents` package: building and validating a CloudEvent object costs 20-45 us per event on this machine,
 * as much as a whole 1-row prediction, for headers that are a handful of fixed strings (the tests decode what we
 * send with that package's own HTTP binding and validate it strictly).
 *
 * Never in the way of inference: send() only enqueues. A bounded queue feeds concurrent senders; when it is full an
 * event waits up to the write timeout for room (Seldon's executor waits the same way, in a goroutine), then is
 * dropped, counted and logged at most once a minute. 5xx, 429 and unreachable sinks are retried with backoff.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../logger.js';
import { eventType, type EventSource, type PayloadEvent } from './events.js';
import type { LoggerMetrics, Sink } from './sink.js';
import { Deque, RateLimitedLog } from './queue.js';

export interface CloudEventsOptions {
  queueSize: number;
  writeTimeoutMs: number;
  workers: number;
  retries: number;
  /** Per attempt: a sink that hangs this long counts as failed. */
  requestTimeoutMs: number;
}

/** Seldon's executor defaults (queue 10000, write timeout 2000 ms, 10 workers); its HTTP client waits 60 s. */
export const CLOUDEVENTS_DEFAULTS: CloudEventsOptions = { queueSize: 10_000, writeTimeoutMs: 2000, workers: 10, retries: 3, requestTimeoutMs: 60_000 };

/**
 * A queued event: its CloudEvent headers and body packed into one Buffer ([u32 header length][headers JSON][body]).
 * A full queue is 10000 events; held as objects (event, headers, a body string built from many parts) it kept so
 * many small objects alive in the old generation that every young-generation GC of a 1-row server promoted ~600 KB
 * (V8 --trace-gc-nvp, sink down): a third of the throughput. One Buffer per event brought that back to ~8 KB, as
 * with no logging at all. Bodies from PACK_LIMIT up are kept by reference rather than copied.
 */
type Packed = Buffer | { head: Buffer; body: Buffer | string };

const PACK_LIMIT = 1 << 20;

function pack(event: PayloadEvent, source: EventSource): Packed {
  const head = JSON.stringify(binaryHeaders(event, source));
  const { body } = event;
  const headBytes = Buffer.byteLength(head);
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (bodyBytes >= PACK_LIMIT) return { head: Buffer.from(head), body };
  const out = Buffer.allocUnsafe(4 + headBytes + bodyBytes);
  out.writeUInt32LE(headBytes, 0);
  out.write(head, 4);
  if (typeof body === 'string') out.write(body, 4 + headBytes);
  else body.copy(out, 4 + headBytes);
  return out;
}

function unpack(p: Packed): { headers: Record<string, string | number>; body: Buffer | string } {
  if (!Buffer.isBuffer(p)) return { headers: JSON.parse(p.head.toString()) as Record<string, string | number>, body: p.body };
  const n = p.readUInt32LE(0);
  return { headers: JSON.parse(p.toString('utf8', 4, 4 + n)) as Record<string, string | number>, body: p.subarray(4 + n) };
}

interface Overflowing {
  packed: Packed;
  deadline: number;
}

export class CloudEventsSink implements Sink {
  private readonly queue = new Deque<Packed>();
  /** Events that found the queue full, waiting (in order) for room until their deadline. */
  private readonly overflow = new Deque<Overflowing>();
  private sweep?: NodeJS.Timeout;
  private active = 0;
  private closed = false;
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly dropLog: RateLimitedLog;
  private readonly failLog: RateLimitedLog;
  private idle?: () => void;
  /** A sink that cannot be reached is left alone until then (doubling up to 5 s): senders wait instead of
   * hammering it, the queue fills, and further events are dropped at the cost of a counter increment. */
  private downUntil = 0;
  private downBackoffMs = 0;
  private readonly sinkName: string;
  /** When an event last left the queue for a sender. */
  private lastProgress = Date.now();
  /** Label children resolved once: a labelled inc() hashes its labels on every call. */
  private readonly dropped: { inc(n?: number): void };
  private readonly sent: { inc(n?: number): void };
  private readonly failed: { inc(n?: number): void };

  constructor(
    url: string,
    private readonly opts: CloudEventsOptions,
    metrics: LoggerMetrics,
    log: Logger,
  ) {
    this.url = new URL(url);
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.workers });
    this.dropLog = new RateLimitedLog(log, 60_000);
    this.failLog = new RateLimitedLog(log, 60_000);
    this.sinkName = this.url.origin + this.url.pathname;
    this.dropped = metrics.dropped.labels(this.sinkName);
    this.sent = metrics.sent.labels(this.sinkName);
    this.failed = metrics.failed.labels(this.sinkName);
  }

  get name(): string {
    return this.sinkName;
  }

  send(event: PayloadEvent, source: EventSource): void {
    if (this.closed) return;
    if (this.queue.length < this.opts.queueSize) {
      this.queue.push(pack(event, source));
      this.pump();
      return;
    }
    const now = Date.now();
    if (this.overflow.length >= this.opts.queueSize || this.opts.writeTimeoutMs <= 0 || this.stalled(now)) {
      this.drop(1);
      return;
    }
    this.overflow.push({ packed: pack(event, source), deadline: now + this.opts.writeTimeoutMs });
    this.sweep ??= setInterval(() => this.expire(), Math.min(this.opts.writeTimeoutMs, 250)).unref();
  }

  /**
   * Whether waiting the write timeout for room is futile: the sink is backed off past it, or no event has left the
   * queue for that long (a sink that hangs). Such events are dropped at once instead of held for the timeout: held
   * events survive young-generation GCs, and copying thousands of them cost a 1-row server a third of its throughput
   * with the sink down; dropped at once, they die young.
   */
  private stalled(now: number): boolean {
    const timeout = this.opts.writeTimeoutMs;
    return this.downUntil - now >= timeout || now - this.lastProgress >= timeout;
  }

  private drop(n: number): void {
    this.dropped.inc(n);
    this.dropLog.warn(
      (count) => `request logger: dropped ${count} event(s) for ${this.name} in the last minute: its queue of ${this.opts.queueSize} was full for ${this.opts.writeTimeoutMs} ms (the sink is slow or down)`,
      n,
    );
  }

  /** Drops overflow events whose write timeout has passed. */
  private expire(): void {
    const now = Date.now();
    let n = 0;
    while (this.overflow.length && this.overflow.peek()!.deadline <= now) {
      this.overflow.shift();
      n++;
    }
    if (n) this.drop(n);
    if (!this.overflow.length && this.sweep) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  private pump(): void {
    while (!this.closed && this.active < this.opts.workers && this.queue.length) {
      const item = this.queue.shift()!;
      this.lastProgress = Date.now();
      if (this.overflow.length) this.queue.push(this.overflow.shift()!.packed);
      this.active++;
      void this.deliver(item).finally(() => {
        this.active--;
        if (this.queue.length) this.pump();
        else if (this.active === 0) this.idle?.();
      });
    }
  }

  private async deliver(packed: Packed): Promise<void> {
    const { headers, body } = unpack(packed);
    let lastError = '';
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const wait = this.downUntil - Date.now();
      if (wait > 0) await sleep(wait);
      if (this.closed) return;
      const outcome = await this.post(headers, body);
      if (outcome.ok) {
        this.downBackoffMs = 0;
        this.sent.inc();
        return;
      }
      lastError = outcome.error;
      if (outcome.unreachable) {
        this.downBackoffMs = Math.min(Math.max(100, this.downBackoffMs * 2), 5000);
        this.downUntil = Date.now() + this.downBackoffMs;
      }
      if (!outcome.retry || this.closed) break;
    }
    this.failed.inc();
    this.failLog.warn((count) => `request logger: ${count} event(s) could not be delivered to ${this.name} in the last minute; last error: ${lastError}`, 1);
  }

  private post(headers: Record<string, string | number>, body: string | Buffer): Promise<{ ok: boolean; retry: boolean; unreachable?: boolean; error: string }> {
    return new Promise((resolve) => {
      const mod = this.url.protocol === 'https:' ? https : http;
      const req = mod.request(this.url, { method: 'POST', agent: this.agent, headers, timeout: this.opts.requestTimeoutMs }, (res) => {
        res.resume(); // the sink's answer body is of no use; read it so the socket is reused
        res.once('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ ok: true, retry: false, error: '' });
          else resolve({ ok: false, retry: status >= 500 || status === 429, error: `HTTP ${status}` });
        });
        res.once('error', (err) => resolve({ ok: false, retry: true, error: err.message }));
      });
      req.once('timeout', () => req.destroy(new Error(`no answer in ${this.opts.requestTimeoutMs} ms`)));
      req.once('error', (err) => resolve({ ok: false, retry: true, unreachable: true, error: err.message }));
      req.end(body);
    });
  }

  /** Waits (up to timeoutMs) for queued events to go out, then stops; what is left is not sent. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.active || this.queue.length) {
      await Promise.race([new Promise<void>((r) => (this.idle = r)), sleep(timeoutMs)]);
    }
    this.closed = true;
    this.queue.clear();
    this.overflow.clear();
    if (this.sweep) clearInterval(this.sweep);
    this.agent.destroy();
  }
}

/** Binary-mode CloudEvent headers, with Seldon's (or KServe's) extension attributes. */
export function binaryHeaders(event: PayloadEvent, source: EventSource): Record<string, string | number> {
  const body = event.body;
  const headers: Record<string, string | number> = {
    'content-type': event.contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    'ce-specversion': '1.0',
    // Seldon: a new id per event, paired by Ce-Requestid; KServe: request and response share the id.
    'ce-id': source.style === 'kserve' ? event.requestId : randomUUID(),
    'ce-type': eventType(source.style, event.kind),
    'ce-source': source.source,
    'ce-time': new Date(event.time).toISOString(),
    ...(source.style === 'kserve'
      ? { 'ce-component': headerSafe(event.modelId) }
      : { 'ce-modelid': headerSafe(event.modelId), 'ce-requestid': headerSafe(event.requestId), 'ce-protocol': event.protocol }),
    'ce-inferenceservicename': headerSafe(source.inferenceServiceName),
    'ce-namespace': headerSafe(source.namespace),
    'ce-endpoint': headerSafe(source.endpoint),
  };
  // Unknown identity (no namespace outside Kubernetes) is left out rather than sent empty.
  for (const k of ['ce-inferenceservicename', 'ce-namespace', 'ce-endpoint']) if (headers[k] === '') delete headers[k];
  return headers;
}

/** A caller's puid lands in a header: keep it to visible ASCII so a bad one cannot break the request. */
function headerSafe(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : v.replace(/[^\x20-\x7e]/g, '?');
}

function backoffMs(attempt: number): number {
  const base = 100 * 2 ** (attempt - 1);
  return base + Math.random() * base; // jitter: many servers retrying a recovered sink do not arrive in step
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
