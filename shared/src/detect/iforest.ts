/**
 * IsolationForest outlier scores from a fitted scikit-learn model, exported by
 * shared/python/modelfleet_iforest_export.py through the native engine's tree format and walked with its sklearn
 * tree semantics (x cast to float32, left when x <= threshold). sklearn's score_samples is
 * -2^(-Σ_trees leaf value / denominator); alibi-detect's IForest reports -decision_function =
 * -(score_samples - offset_), higher meaning more outlying.
 */
import { buildTreeArrays, leafLe, type TreeArrays } from '../native/trees.js';
import { decodeArray, type EncodedArray, type Matrix } from './matrix.js';

export const IFOREST_EXPORT_FORMAT = 'modelfleet-iforest/1';

type EncI4 = { dtype: 'i4'; shape: number[]; b64: string };

export interface IForestExport {
  format: string;
  n_features: number;
  trees: { feature: EncI4; threshold: EncodedArray; left: EncI4; right: EncI4; value: EncodedArray }[];
  denominator: number;
  offset: number;
}

function decodeI4(e: EncI4, what: string): Int32Array {
  const bytes = Buffer.from(e.b64, 'base64');
  if (e.dtype !== 'i4' || bytes.length !== e.shape.reduce((p, d) => p * d, 1) * 4) throw new Error(`${what}: not an encoded i4 array`);
  const out = new Int32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export class IsolationForestScorer {
  private readonly trees: TreeArrays;
  readonly nFeatures: number;
  readonly denominator: number;
  readonly offset: number;

  constructor(readonly exported: IForestExport) {
    if (!exported || exported.format !== IFOREST_EXPORT_FORMAT) throw new Error(`not a ${IFOREST_EXPORT_FORMAT} export`);
    this.nFeatures = exported.n_features;
    this.denominator = exported.denominator;
    this.offset = exported.offset;
    this.trees = buildTreeArrays(
      exported.trees.map((t, i) => ({
        feature: decodeI4(t.feature, `tree ${i} feature`),
        threshold: decodeArray(t.threshold, `tree ${i} threshold`),
        left: decodeI4(t.left, `tree ${i} left`),
        right: decodeI4(t.right, `tree ${i} right`),
        value: decodeArray(t.value, `tree ${i} value`),
      })),
      1,
    );
  }

  /** sklearn's IsolationForest.score_samples (lower = more abnormal). */
  scoreSamples(x: Matrix): Float64Array {
    if (x.cols !== this.nFeatures) throw new RangeError(`expected ${this.nFeatures} features per instance, got ${x.cols}`);
    const d = x.cols, t = this.trees, nTrees = t.treeRoot.length;
    const row = new Float64Array(d);
    const out = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) {
      for (let f = 0; f < d; f++) row[f] = Math.fround(x.data[r * d + f]);
      let depth = 0;
      for (let k = 0; k < nTrees; k++) depth += t.value[leafLe(t, t.treeRoot[k], row, 0)];
      out[r] = -(this.denominator !== 0 ? 2 ** -(depth / this.denominator) : 1);
    }
    return out;
  }

  /** alibi-detect's IForest score: -decision_function(X) = -(score_samples - offset_). */
  score(x: Matrix): Float64Array {
    const s = this.scoreSamples(x);
    for (let i = 0; i < s.length; i++) s[i] = -(s[i] - this.offset);
    return s;
  }
}
