import { UnsupportedModelError } from './errors.js';
import { logf } from './f32math.js';

export type XGBTransform = 'identity' | 'sigmoid' | 'exp' | 'softmax' | 'argmax' | 'hinge';

/**
 * How each objective maps margins to `booster.predict` output, and how xgboost 1.7 turns the stored
 * learner_model_param.base_score (output space) into the initial margin (ObjFunction::ProbToMargin).
 */
interface ObjectiveSpec {
  transform: XGBTransform;
  baseLink: 'identity' | 'logit' | 'log';
  classifier: boolean;
}

const SPECS: Record<string, ObjectiveSpec> = {
  'reg:squarederror': { transform: 'identity', baseLink: 'identity', classifier: false },
  'reg:linear': { transform: 'identity', baseLink: 'identity', classifier: false },
  'reg:squaredlogerror': { transform: 'identity', baseLink: 'identity', classifier: false },
  'reg:pseudohubererror': { transform: 'identity', baseLink: 'identity', classifier: false },
  'reg:absoluteerror': { transform: 'identity', baseLink: 'identity', classifier: false },
  'reg:logistic': { transform: 'sigmoid', baseLink: 'logit', classifier: false },
  'binary:logistic': { transform: 'sigmoid', baseLink: 'logit', classifier: true },
  // LogisticRaw overrides ProbToMargin with the identity: base_score is used as the margin as-is.
  'binary:logitraw': { transform: 'identity', baseLink: 'identity', classifier: true },
  'binary:hinge': { transform: 'hinge', baseLink: 'identity', classifier: true },
  'count:poisson': { transform: 'exp', baseLink: 'log', classifier: false },
  'reg:tweedie': { transform: 'exp', baseLink: 'log', classifier: false },
  'reg:gamma': { transform: 'exp', baseLink: 'log', classifier: false },
  'multi:softprob': { transform: 'softmax', baseLink: 'identity', classifier: true },
  'multi:softmax': { transform: 'argmax', baseLink: 'identity', classifier: true },
  'rank:pairwise': { transform: 'identity', baseLink: 'identity', classifier: false },
  'rank:ndcg': { transform: 'identity', baseLink: 'identity', classifier: false },
  'rank:map': { transform: 'identity', baseLink: 'identity', classifier: false },
};

export function objectiveSpec(name: string): ObjectiveSpec {
  const s = SPECS[name];
  if (!s) throw new UnsupportedModelError(`the XGBoost objective '${name}'`);
  return s;
}

/** float32 margin of a float32 base_score, computed with float ops as the C++ does. */
export function baseMargin(baseScore: number, link: ObjectiveSpec['baseLink']): number {
  const b = Math.fround(baseScore);
  if (link === 'identity') return b;
  if (link === 'log') return logf(b);
  // -logf(1.0f / base_score - 1.0f)
  return -logf(Math.fround(Math.fround(1 / b) - 1));
}
