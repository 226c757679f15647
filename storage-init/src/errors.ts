/** Every failure fetchModel reports: the message names the URI and, where known, the bucket, object and credential. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
