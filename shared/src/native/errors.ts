/** The model uses a feature the native engine cannot reproduce exactly; callers fall back to the Python engine. */
export class UnsupportedModelError extends Error {
  constructor(readonly feature: string) {
    super(`native engine does not support ${feature}`);
    this.name = 'UnsupportedModelError';
  }
}

/** The request does not fit the model (feature count, NaN where the library rejects it, unknown output): HTTP 400. */
export class NativeInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeInputError';
  }
}
