import { ServingError } from '../errors.js';

/** An explainer that cannot serve this model or this request: a 400 on a request, a start-up error otherwise. */
export class ExplainError extends ServingError {
  constructor(message: string) {
    super('bad_input', message);
    this.name = 'ExplainError';
  }
}
