/** JSON over HTTP to a peer (a graph node, TF Serving): one place for timeouts, unreachable peers and non-JSON bodies. */

export interface JsonAnswer {
  status: number;
  ok: boolean;
  text: string;
  /** The body parsed, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * GETs `url`, or POSTs `body` as JSON. A peer that cannot be reached (refused, reset, timed out) becomes the error
 * `unreachable` makes from the cause (ECONNREFUSED, TimeoutError...); any HTTP answer is returned as it is.
 */
export async function fetchJson(
  url: string,
  opts: { body?: unknown; timeoutMs?: number; headers?: Record<string, string> },
  unreachable: (cause: string) => Error,
): Promise<JsonAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.body === undefined ? 'GET' : 'POST',
      headers: opts.body === undefined ? { ...opts.headers } : { 'content-type': 'application/json', ...opts.headers },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined,
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw unreachable(cause?.code ?? cause?.message ?? (err as Error).name);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, ok: res.ok, text, json };
}
