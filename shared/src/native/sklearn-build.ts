import { sharedArray, type NumArray } from './arrays.js';
import { UnsupportedModelError } from './errors.js';
import { SklearnModel, type HeadMeta, type SklearnMeta, type SpecMeta, type TransformMeta } from './sklearn-model.js';
import { buildTreeArrays, type TreeInput } from './trees.js';
import type { NativeModel } from './types.js';

/** The JSON shapes written by shared/python/modelfleet_sklearn_export.py. */
type EncodedArray = { dtype: 'f8' | 'i4'; shape: number[]; b64: string };
type Enc = EncodedArray | null;
type AnyRec = Record<string, unknown>;

export const SKLEARN_EXPORT_FORMAT = 'modelfleet-sklearn/1';

function decode(a: EncodedArray): Float64Array | Int32Array {
  const bytes = Buffer.from(a.b64, 'base64');
  const n = a.shape.reduce((p, d) => p * d, 1);
  const size = a.dtype === 'f8' ? 8 : 4;
  if (bytes.length !== n * size) throw new Error(`sklearn export: array of shape [${a.shape}] has ${bytes.length} bytes`);
  const out = sharedArray(a.dtype === 'f8' ? 'f64' : 'i32', n);
  // Copy through a byte view: the base64 payload is little-endian, as are typed arrays on every platform Node runs on.
  new Uint8Array(out.buffer, out.byteOffset, bytes.length).set(bytes);
  return out;
}

/** Builds a native model from `export(estimator)` of modelfleet_sklearn_export.py. */
export function nativeFromSklearnExport(exported: unknown): NativeModel {
  const e = exported as AnyRec;
  if (!e || e.format !== SKLEARN_EXPORT_FORMAT) {
    if (e && typeof e.unsupported === 'string') throw new UnsupportedModelError(e.unsupported);
    throw new Error(`not a ${SKLEARN_EXPORT_FORMAT} export (format ${String(e?.format)})`);
  }
  const arrays: Record<string, NumArray> = {};
  const put = (name: string, a: Enc): string | null => {
    if (a === null || a === undefined) return null;
    arrays[name] = decode(a);
    return name;
  };
  const transforms = (e.transforms as AnyRec[]).map((t, i): TransformMeta => {
    const p = `t${i}.`;
    const accept = t.accept as TransformMeta['accept'];
    switch (t.op) {
      case 'center_scale':
        return { op: 'center_scale', sub: put(p + 'sub', t.sub as Enc), div: put(p + 'div', t.div as Enc), accept };
      case 'mul_add':
        return { op: 'mul_add', mul: put(p + 'mul', t.mul as Enc)!, add: put(p + 'add', t.add as Enc)!, clip: (t.clip as [number, number] | null) ?? null, accept };
      case 'impute':
        return {
          op: 'impute',
          missing: (t.missing as number | null) ?? null,
          fill: put(p + 'fill', t.fill as Enc)!,
          keep: put(p + 'keep', t.keep as Enc)!,
          indicator: put(p + 'indicator', t.indicator as Enc),
          accept,
        };
      case 'onehot':
        return {
          op: 'onehot',
          categories: (t.categories as EncodedArray[]).map((c, j) => put(`${p}cat${j}`, c)!),
          drop: t.drop as number[],
          unknown: t.unknown as 'error' | 'ignore',
          accept,
        };
      default:
        throw new UnsupportedModelError(`the sklearn transform op '${String(t.op)}'`);
    }
  });

  const h = e.head as AnyRec;
  let head: HeadMeta;
  if (h.type === 'linear') {
    put('coef', h.coef as Enc);
    put('intercept', h.intercept as Enc);
    head = { type: 'linear', rows: (h.coef as EncodedArray).shape[0] };
  } else if (h.type === 'trees') {
    const leafWidth = h.leaf_width as number;
    const groups = h.tree_groups ? decode(h.tree_groups as EncodedArray) : null;
    const weights = h.weights ? decode(h.weights as EncodedArray) : null;
    const inputs: TreeInput[] = (h.trees as AnyRec[]).map((t, i) => ({
      feature: decode(t.feature as EncodedArray),
      threshold: decode(t.threshold as EncodedArray),
      left: decode(t.left as EncodedArray),
      right: decode(t.right as EncodedArray),
      defaultLeft: t.default_left ? decode(t.default_left as EncodedArray) : undefined,
      value: decode(t.value as EncodedArray),
      cover: t.cover ? decode(t.cover as EncodedArray) : undefined,
      group: groups ? groups[i] : 0,
      weight: weights ? weights[i] : 1,
    }));
    const trees = buildTreeArrays(inputs, leafWidth);
    for (const [k, v] of Object.entries(trees)) arrays[`tree.${k}`] = v;
    put('init', h.init as Enc);
    head = { type: 'trees', compare: h.compare as 'f32le' | 'f64le', leafWidth, groups: h.groups as number, average: h.average === true };
  } else {
    throw new UnsupportedModelError(`the sklearn head '${String(h.type)}'`);
  }

  const s = e.spec as AnyRec;
  const spec: SpecMeta = {
    task: s.task as SpecMeta['task'],
    ravel: s.ravel as boolean | undefined,
    predict: s.predict as SpecMeta['predict'],
    decision: s.decision as boolean | undefined,
    proba: (s.proba as SpecMeta['proba']) ?? null,
    accept: s.accept as SpecMeta['accept'],
  };
  if (s.classes) {
    const c = s.classes as { datatype: NonNullable<SpecMeta['classes']>['datatype']; values: unknown };
    const values = c.datatype === 'FP64' ? Array.from(decode(c.values as EncodedArray)) : (c.values as (string | number | boolean)[]);
    spec.classes = { datatype: c.datatype, values };
  }
  const meta: SklearnMeta = {
    kind: e.kind as string,
    nFeatures: e.n_features as number,
    outputs: e.outputs as string[],
    transforms,
    head,
    spec,
  };
  return new SklearnModel(meta, arrays);
}
