/**
 * The sink that needs no infrastructure: JSON Lines to a file or stdout, one record per request/response pair
 * (puid, model, timestamps, payloads), rotated by size (file.1 is the newest old file). A request waits in memory for
 * its response (bounded; one unanswered after a minute is written alone); feedback is a record of its own.
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { EventSource, PayloadEvent } from './events.js';
import { RateLimitedLog } from './queue.js';
import type { LoggerMetrics, Sink } from './sink.js';

export interface JsonLinesOptions {
  /** Rotate the file when it would grow past this many bytes. */
  maxFileBytes: number;
  /** Rotated files kept (file.1 … file.N). */
  keepFiles: number;
}

const MAX_PENDING = 10_000;
const PENDING_MS = 60_000;
/** Past this much unwritten output (a stalled disk or a stdout nobody reads) records are dropped and counted. */
const MAX_BUFFERED = 16 * 1024 * 1024;

interface Half {
  time: string;
  contentType: string;
  payload: unknown;
}

interface Pending {
  event: PayloadEvent;
  source: EventSource;
  at: number;
}

export class JsonLinesSink implements Sink {
  private out?: NodeJS.WritableStream;
  private size = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private readonly dropLog: RateLimitedLog;

  constructor(
    private readonly file: string | undefined,
    private readonly opts: JsonLinesOptions,
    private readonly metrics: LoggerMetrics,
    private readonly log: Logger,
  ) {
    this.dropLog = new RateLimitedLog(log, 60_000);
    this.timer = setInterval(() => this.flushOld(Date.now() - PENDING_MS), 10_000).unref();
  }

  get name(): string {
    return this.file ?? 'stdout';
  }

  send(event: PayloadEvent, source: EventSource): void {
    const key = `${event.requestId}\u0000${event.modelId}`;
    if (event.kind === 'request') {
      if (this.pending.size >= MAX_PENDING) this.flushOldest();
      this.pending.set(key, { event, source, at: Date.now() });
      return;
    }
    if (event.kind === 'response') {
      const req = this.pending.get(key);
      this.pending.delete(key);
      this.write(record(req?.event ?? event, source, req?.event, event));
      return;
    }
    this.write({ ...record(event, source, undefined, undefined), feedback: half(event) });
  }

  private flushOldest(): void {
    const [key, p] = this.pending.entries().next().value!;
    this.pending.delete(key);
    this.write(record(p.event, p.source, p.event, undefined));
  }

  /** Requests whose response never came (mode request, or a failed prediction) are written alone. */
  private flushOld(before: number): void {
    for (const [key, p] of this.pending) {
      if (p.at > before) break; // insertion order is arrival order
      this.pending.delete(key);
      this.write(record(p.event, p.source, p.event, undefined));
    }
  }

  private stream(): NodeJS.WritableStream {
    if (this.out) return this.out;
    if (!this.file) return (this.out = process.stdout);
    mkdirSync(path.dirname(this.file), { recursive: true });
    this.size = existsSync(this.file) ? statSync(this.file).size : 0;
    const s = createWriteStream(this.file, { flags: 'a' });
    s.on('error', (err) => this.log.error(`request logger: cannot write ${this.file}: ${err.message}`));
    return (this.out = s);
  }

  private write(rec: Record<string, unknown>): void {
    const line = JSON.stringify(rec) + '\n';
    const bytes = Buffer.byteLength(line);
    let out = this.stream();
    if ((out as WriteStream).writableLength > MAX_BUFFERED) {
      this.metrics.dropped.inc({ sink: this.name });
      this.dropLog.warn((n) => `request logger: dropped ${n} record(s) for ${this.name} in the last minute: writes are not keeping up`, 1);
      return;
    }
    if (this.file && this.size > 0 && this.size + bytes > this.opts.maxFileBytes) {
      this.rotate();
      out = this.stream();
    }
    out.write(line);
    this.size += bytes;
    this.metrics.sent.inc({ sink: this.name });
  }

  private rotate(): void {
    const file = this.file!;
    (this.out as WriteStream).end();
    this.out = undefined;
    // The stream's buffered writes still land in the renamed file: the descriptor follows the rename.
    rmSync(`${file}.${this.opts.keepFiles}`, { force: true });
    for (let i = this.opts.keepFiles - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    if (this.opts.keepFiles > 0) renameSync(file, `${file}.1`);
    else rmSync(file, { force: true });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flushOld(Infinity);
    const out = this.out;
    this.out = undefined;
    if (out && out !== process.stdout) await new Promise<void>((r) => (out as WriteStream).end(() => r()));
  }
}

function record(first: PayloadEvent, source: EventSource, req: PayloadEvent | undefined, res: PayloadEvent | undefined): Record<string, unknown> {
  return {
    puid: first.requestId,
    model: first.modelId,
    protocol: first.protocol,
    deployment: source.inferenceServiceName,
    namespace: source.namespace,
    predictor: source.endpoint,
    ...(req ? { request: half(req) } : {}),
    ...(res ? { response: half(res) } : {}),
  };
}

/** JSON payloads nested as JSON (so jq reads them), anything else as base64. */
function half(e: PayloadEvent): Half {
  let payload: unknown;
  if (e.contentType.includes('json')) {
    try {
      payload = JSON.parse(typeof e.body === 'string' ? e.body : e.body.toString('utf8'));
    } catch {
      payload = typeof e.body === 'string' ? e.body : e.body.toString('utf8');
    }
  } else payload = { base64: (typeof e.body === 'string' ? Buffer.from(e.body) : e.body).toString('base64') };
  return { time: new Date(e.time).toISOString(), contentType: e.contentType, payload };
}
