/**
 * XGBoost's float32 arithmetic reproduced in JS. A double result of +, -, *, / on float32 operands rounded once to
 * float32 equals the float32 operation (53 >= 2*24+2 bits), so Math.fround of the double op is exact; libm's
 * expf/logf are matched by rounding the double function's result.
 */
const f = Math.fround;

export const expf = (x: number): number => f(Math.exp(x));
export const logf = (x: number): number => f(Math.log(x));

/** common::Sigmoid in xgboost 1.7: 1.0f / (1.0f + expf(-x)). */
export const sigmoidf = (x: number): number => f(1 / f(1 + expf(-x)));

/** common::Softmax over one row in place: float exps, double sum, float division. */
export function softmaxf(v: Float32Array, off: number, n: number): void {
  let wmax = v[off];
  for (let i = 1; i < n; i++) if (v[off + i] > wmax) wmax = v[off + i];
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const e = expf(f(v[off + i] - wmax));
    v[off + i] = e;
    wsum += e;
  }
  const s = f(wsum);
  for (let i = 0; i < n; i++) v[off + i] = v[off + i] / s;
}

/** First index of the maximum, as common::FindMaxIndex. */
export function argmax(v: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
  return best;
}
