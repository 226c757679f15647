/**
 * One error type for every protocol and transport: the HTTP status or gRPC code the server answered, its message
 * as the server worded it, and the whole body it sent, so a caller never loses what the server said.
 */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly details: {
      /** HTTP status (REST), when the server answered. */
      status?: number;
      /** gRPC status name (INVALID_ARGUMENT, UNAVAILABLE, ...), for gRPC calls. */
      grpcCode?: string;
      /** The response body as sent: parsed JSON when it was JSON, else text. */
      body?: unknown;
      /** What was called, e.g. "POST http://host:9000/api/v1.0/predictions". */
      target?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ClientError';
  }

  get status(): number | undefined {
    return this.details.status;
  }
  get grpcCode(): string | undefined {
    return this.details.grpcCode;
  }
  get body(): unknown {
    return this.details.body;
  }
}

/** The server's own message in any of the protocols' error shapes (Seldon status.info, V2/KServe error, MLflow message). */
export function serverMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, any>;
  if (b.status && typeof b.status === 'object' && (b.status.info || b.status.reason)) {
    return [b.status.reason, b.status.info].filter(Boolean).join(': ');
  }
  if (typeof b.error === 'string') return b.error;
  if (typeof b.message === 'string') return b.message;
  if (typeof b.detail === 'string') return b.detail;
  return undefined;
}
