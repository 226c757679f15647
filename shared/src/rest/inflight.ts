/**
 * A budget for request body bytes held by requests in flight (MODELFLEET_MAX_INFLIGHT_BYTES). Each body's bytes are
 * reserved as they arrive (at once when Content-Length declares them) and released when its answer is sent, so N
 * concurrent large requests cannot together exceed it; a request that would is answered 503 with Retry-After
 * before its body is buffered.
 */
import { ServingError } from '../errors.js';

export class InflightBudget {
  private used = 0;

  constructor(readonly max: number) {}

  /** Reserves `bytes` more for one request; throws the 503 when the budget would be exceeded. */
  take(bytes: number): void {
    if (this.used + bytes > this.max) {
      throw new ServingError('unavailable', `server busy: request bodies in flight would exceed ${this.max} bytes (MODELFLEET_MAX_INFLIGHT_BYTES); retry shortly`, {
        status: 503,
      });
    }
    this.used += bytes;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }

  get inUse(): number {
    return this.used;
  }
}
