import { status, type ServiceError } from '@grpc/grpc-js';
import { asServingError, type ErrorKind } from '../errors.js';

/** Each error kind as the gRPC status a client can act on. */
const CODES: Record<ErrorKind, status> = {
  bad_input: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  not_ready: status.UNAVAILABLE,
  unavailable: status.UNAVAILABLE,
  too_large: status.RESOURCE_EXHAUSTED,
  internal: status.INTERNAL,
  unsupported: status.UNIMPLEMENTED,
};

export function toGrpcError(err: unknown): Partial<ServiceError> & { code: status } {
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'number' && 'details' in err) {
    return err as Partial<ServiceError> & { code: status };
  }
  const e = asServingError(err);
  return { code: CODES[e.kind], details: e.message };
}

export function grpcError(code: status, details: string): Partial<ServiceError> & { code: status } {
  return { code, details };
}
