/**
 * Errors carry a protocol-neutral kind; each protocol maps the kind to its own status code and body shape.
 */
export type ErrorKind = 'bad_input' | 'not_found' | 'not_ready' | 'unavailable' | 'too_large' | 'internal' | 'unsupported';

export class ServingError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServingError';
  }
}

export const badInput = (msg: string) => new ServingError('bad_input', msg);
export const notFound = (msg: string) => new ServingError('not_found', msg);
export const notReady = (msg: string) => new ServingError('not_ready', msg);
export const unavailable = (msg: string) => new ServingError('unavailable', msg);
export const tooLarge = (msg: string) => new ServingError('too_large', msg);
export const internal = (msg: string, cause?: unknown) => new ServingError('internal', msg, { cause });

export function asServingError(err: unknown): ServingError {
  if (err instanceof ServingError) return err;
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
