import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Total tries, the first one included. */
  attempts?: number;
  /** First wait; doubles each time, with jitter, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  log?: (message: string) => void;
  /** What is being tried, for the log line. */
  what?: string;
}

/** Raised for failures that a retry cannot fix (missing object, refused credentials, unsafe name). */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE', 'SIZE_MISMATCH',
]);

/** Network resets, timeouts, 429 and 5xx are worth another try; anything else is not. */
export function isTransient(err: unknown): boolean {
  if (err instanceof PermanentError) return false;
  const e = err as { code?: unknown; status?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown; name?: string };
  const status = typeof e?.status === 'number' ? e.status : (e?.$metadata?.httpStatusCode ?? (typeof e?.code === 'number' ? e.code : undefined));
  if (typeof status === 'number') return status === 408 || status === 429 || status >= 500;
  if (typeof e?.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return true;
  if (e?.cause && e.cause !== err) return isTransient(e.cause);
  // fetch() reports socket failures as a bare TypeError("fetch failed") whose cause carries the code.
  return false;
}

/** Runs `fn` until it succeeds, a permanent error comes, or the tries run out (exponential backoff with jitter). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      const delay = Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      options.log?.(`${options.what ?? 'request'} failed (${(err as Error).message}); retry ${attempt}/${attempts - 1} in ${Math.round(delay)} ms`);
      await sleep(delay);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new starts and is rethrown. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Wait for every worker, not just the first failure, so no write is still running when the caller cleans up.
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}
