// Parity of the detectors' statistics with scipy, computed by scipy itself in the test: two-sample KS
// (statistic and p-value, method='asymp' as alibi-detect calls it, every alternative, sizes 5..10,000, ties)
// and chi2_contingency (with Yates' correction on 2x2 tables and the degenerate one-category table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ks2samp, type Alternative } from '@modelfleet/shared/detect/stats/ks';
import { kolmogorovSf } from '@modelfleet/shared/detect/stats/kolmogorov';
import { chi2Contingency } from '@modelfleet/shared/detect/stats/chi2';
import { pythonJson } from './helpers/python.js';

type KsCase = { a: number[]; b: number[]; alt: Alternative; stat: number; p: number; label: string };

const KS_CASES = String.raw`
import json, numpy as np
from scipy.stats import ks_2samp
rng = np.random.default_rng(7)
cases = []
sizes = [(5, 5), (5, 8), (7, 30), (20, 20), (50, 13), (100, 100), (141, 141), (300, 250), (1000, 1000),
         (1000, 10000), (10000, 10000), (10000, 100), (3000, 200), (2000, 2000)]
for (n1, n2) in sizes:
    for shift in (0.0, 0.15, 0.5, 2.0):
        for ties in (False, True):
            a = rng.normal(0, 1, n1); b = rng.normal(shift, 1, n2)
            if ties:
                a = np.round(a * 2) / 2; b = np.round(b * 2) / 2
            for alt in ('two-sided', 'less', 'greater'):
                r = ks_2samp(a, b, alternative=alt, method='asymp')
                cases.append({'a': a.tolist(), 'b': b.tolist(), 'alt': alt, 'stat': float(r.statistic), 'p': float(r.pvalue),
                              'label': f'{n1}x{n2} shift={shift} ties={ties} {alt}'})
print(json.dumps(cases))
`;

test('ks_2samp(method="asymp") statistics within 1e-9 and p-values within 1e-7 of scipy', { timeout: 600_000 }, async () => {
  const cases = await pythonJson<KsCase[]>(KS_CASES, ['scipy']);
  assert.ok(cases.length > 300);
  let worstP = 0;
  for (const c of cases) {
    const r = ks2samp(c.a, c.b, c.alt);
    assert.ok(Math.abs(r.statistic - c.stat) <= 1e-9, `${c.label}: statistic ${r.statistic} vs scipy ${c.stat}`);
    assert.ok(Math.abs(r.pValue - c.p) <= 1e-7, `${c.label}: p ${r.pValue} vs scipy ${c.p}`);
    worstP = Math.max(worstP, Math.abs(r.pValue - c.p));
  }
  // Every branch of the two-sided distribution is visited by the grid below too.
  assert.ok(worstP <= 1e-7);
});

test('kstwo.sf over every branch (Ruben-Gambino, Durbin, Pomeranz, Pelz-Good, Smirnov) within 1e-7 of scipy', { timeout: 300_000 }, async () => {
  const grid = await pythonJson<[number, number, number][]>(String.raw`
import json, numpy as np
from scipy.stats import kstwo
out = []
for n in (1, 2, 3, 5, 10, 40, 100, 140, 141, 200, 500, 909, 1000, 5000, 20000, 100001):
    for x in np.concatenate([np.linspace(0.001, 0.999, 60), [0.5 / n, 0.7 / n, 1.0 / n, 1.5 / n, 3.0 / n, (n - 1.0) / n]]):
        if 0 < x < 1:
            out.append([n, float(x), float(kstwo.sf(x, n))])
print(json.dumps(out))
`, ['scipy']);
  for (const [n, x, want] of grid) {
    const got = kolmogorovSf(n, x);
    assert.ok(Math.abs(got - want) <= 1e-7, `kstwo.sf(${x}, ${n}) = ${want}, got ${got}`);
  }
});

type ChiCase = { table: number[][]; stat: number; p: number };

test('chi2_contingency on 2xK tables within 1e-9 (statistic, relative) and 1e-7 (p-value) of scipy', { timeout: 300_000 }, async () => {
  const cases = await pythonJson<ChiCase[]>(String.raw`
import json, numpy as np
from scipy.stats import chi2_contingency
rng = np.random.default_rng(3)
out = []
for k in (1, 2, 3, 5, 12):
    for n1, n2 in ((10, 10), (50, 7), (1000, 100), (5000, 5000)):
        for skew in (0.0, 0.3):
            p = rng.dirichlet(np.ones(k)); q = (1 - skew) * p + skew * rng.dirichlet(np.ones(k))
            t = np.vstack([rng.multinomial(n1, p), rng.multinomial(n2, q)])
            t = t[:, t.sum(axis=0) > 0]
            r = chi2_contingency(t)
            out.append({'table': t.tolist(), 'stat': float(r[0]), 'p': float(r[1])})
out.append({'table': [[3, 0], [0, 4]], 'stat': float(chi2_contingency([[3, 0], [0, 4]])[0]), 'p': float(chi2_contingency([[3, 0], [0, 4]])[1])})
print(json.dumps(out))
`, ['scipy']);
  for (const c of cases) {
    const r = chi2Contingency(c.table);
    assert.ok(Math.abs(r.statistic - c.stat) <= 1e-9 * Math.max(1, Math.abs(c.stat)), `${JSON.stringify(c.table)}: chi2 ${r.statistic} vs ${c.stat}`);
    assert.ok(Math.abs(r.pValue - c.p) <= 1e-7, `${JSON.stringify(c.table)}: p ${r.pValue} vs ${c.p}`);
  }
  assert.throws(() => chi2Contingency([[0, 1], [0, 2]]), /no observations/);
});
