import { NativeInputError } from './errors.js';
import type { FeatureMatrix } from './types.js';

/** Validates the input size and the requested output before any work is done. */
export function checkRun(X: FeatureMatrix, nRows: number, nFeatures: number, output: string, outputs: string[]): void {
  if (!Number.isInteger(nRows) || nRows < 0) throw new NativeInputError(`row count must be a non-negative integer, got ${nRows}`);
  if (X.length !== nRows * nFeatures) {
    const perRow = nRows > 0 ? X.length / nRows : NaN;
    throw new NativeInputError(
      Number.isInteger(perRow)
        ? `expected ${nFeatures} features, got ${perRow}`
        : `expected ${nRows} rows x ${nFeatures} features = ${nRows * nFeatures} values, got ${X.length}`,
    );
  }
  if (!outputs.includes(output)) {
    throw new NativeInputError(`output '${output}' is not available for this model (available: ${outputs.join(', ')})`);
  }
}
