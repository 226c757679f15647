/**
 * Errors carry a protocol-neutral kind; each protocol maps the kind to its own status code and body shape.
 */
export type ErrorKind = 'bad_input' | 'not_found' | 'not_ready' | 'unavailable' | 'too_large' | 'internal' | 'unsupported';

export interface ServingErrorOptions {
  cause?: unknown;
  /** An explicit HTTP status (a user model's own exception carries one), instead of the kind's. */
  status?: number;
  /** Seldon's reason string (MICROSERVICE_BAD_DATA, ...), when the source names one. */
  reason?: string;
  /** A Seldon body to answer as is (a user exception's to_dict()). */
  body?: unknown;
}

export class ServingError extends Error {
  readonly status?: number;
  readonly reason?: string;
  readonly body?: unknown;

  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: ServingErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServingError';
    this.status = options?.status;
    this.reason = options?.reason;
    this.body = options?.body;
  }
}

/** The kind an HTTP status belongs to, for errors that arrive as a status (user code, remote units). */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 404) return 'not_found';
  if (status === 413) return 'too_large';
  if (status === 501) return 'unsupported';
  if (status === 502 || status === 503 || status === 504) return 'unavailable'; // the peer, or a gateway before it
  if (status >= 400 && status < 500) return 'bad_input';
  return 'internal';
}

/** An error with the status (and Seldon reason/body) another component answered. */
export function statusError(status: number, message: string, reason?: string, body?: unknown): ServingError {
  return new ServingError(kindOfStatus(status), message, { status, reason, body });
}

export const badInput = (msg: string) => new ServingError('bad_input', msg);
export const notFound = (msg: string) => new ServingError('not_found', msg);
export const notReady = (msg: string) => new ServingError('not_ready', msg);
export const unavailable = (msg: string) => new ServingError('unavailable', msg);
export const tooLarge = (msg: string) => new ServingError('too_large', msg);
export const internal = (msg: string, cause?: unknown) => new ServingError('internal', msg, { cause });

/** The HTTP status an error is answered with. */
export function httpStatusOf(e: ServingError): number {
  return e.status ?? HTTP_STATUS[e.kind];
}

export function asServingError(err: unknown): ServingError {
  if (err instanceof ServingError) return err;
  // Only a request can nest deep enough to exhaust the stack (100,000 levels of [ or {): the client's fault.
  if (err instanceof RangeError && /call stack/.test(err.message)) {
    return new ServingError('bad_input', 'the request is nested too deeply to process', { cause: err });
  }
  if (err instanceof URIError) return new ServingError('bad_input', `malformed percent-encoding in the path: ${err.message}`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new ServingError('internal', message, { cause: err });
}

/** HTTP status per kind: 503 for not-ready as KServe and Triton do, 413 for bodies over the limit. */
export const HTTP_STATUS: Record<ErrorKind, number> = {
  bad_input: 400,
  not_found: 404,
  not_ready: 503,
  unavailable: 503,
  too_large: 413,
  internal: 500,
  unsupported: 501,
};
