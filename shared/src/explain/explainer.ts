/**
 * One explainer, configured as Seldon configures its explainer component (`type`, `modelUri` holding its data,
 * `config` string map), answering explain calls with Alibi's Explanation JSON.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { NativeModel } from '../native/types.js';
import { AnchorTabular } from './anchor-tabular.js';
import { loadBackground, subsample, type Background } from './background.js';
import { ExplainError } from './errors.js';
import { shapExplanation, type Explanation } from './explanation.js';
import { KernelShap, type Predict } from './kernel-shap.js';
import { LinearShap } from './linear-shap.js';
import { treeShap, treeViewOf, type TreeShapResult, type TreeView } from './tree-shap.js';
import type { TreeShapTask } from './tree-worker.js';

export const EXPLAINER_TYPES = ['TreeShap', 'KernelShap', 'LinearShap', 'AnchorTabular'] as const;
export type ExplainerType = (typeof EXPLAINER_TYPES)[number];

export interface ExplainerSpec {
  type: string;
  /** Local path (already fetched) of the explainer's data: background rows as .npy or .csv. */
  dataPath?: string;
  /** Seldon's `config` map: strings, as the operator passes them. */
  config: Record<string, string>;
}

/** What the explainer explains: a predict function always, the native model when the server has one. */
export interface ExplainTarget {
  predict: Predict;
  native?: NativeModel;
  /** Whether the explained output is class scores (classification) or values (regression). */
  task?: 'classification' | 'regression';
}

export interface ExplainRequest {
  X: Float64Array;
  nRows: number;
  nFeatures: number;
  names?: string[];
  /** Per-request arguments (V2 `explain_parameters`, or the Seldon body's `parameters`). */
  params?: Record<string, unknown>;
}

export interface Explainer {
  readonly type: ExplainerType;
  explain(req: ExplainRequest): Promise<Explanation>;
  close(): Promise<void>;
}

export interface ExplainerOptions {
  /** Worker threads for TreeSHAP batches too large for the event loop (0: always inline). */
  workers: number;
  /** Requests estimated under this many microseconds run inline (the native engine's MODELFLEET_INLINE_BUDGET_US). */
  inlineBudgetUs: number;
  log?: (m: string) => void;
}

const WORKER = fileURLToPath(new URL('./tree-worker.js', import.meta.url));

/** Seldon's booleans: yes/true/t/y/1 and no/false/f/n/0. */
export function parseBool(v: unknown, key: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['yes', 'true', 't', 'y', '1'].includes(s)) return true;
  if (['no', 'false', 'f', 'n', '0'].includes(s)) return false;
  throw new ExplainError(`${key} must be a boolean (true/false), got '${String(v)}'`);
}

export function parseNumber(v: unknown, key: string, { min = -Infinity, max = Infinity, integer = false } = {}): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new ExplainError(`${key} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${String(v)}'`);
  }
  return n;
}

function namesFrom(config: Record<string, string>, bg?: Background): string[] | undefined {
  const raw = config.feature_names;
  if (raw !== undefined) {
    const t = raw.trim();
    return t.startsWith('[') ? (JSON.parse(t) as unknown[]).map(String) : t.split(',').map((s) => s.trim());
  }
  return bg?.names;
}

function needBackground(spec: ExplainerSpec): Background {
  if (!spec.dataPath) throw new ExplainError(`${spec.type} needs background data: set the explainer's modelUri to a .npy or .csv file (or a folder holding one)`);
  return loadBackground(spec.dataPath);
}

function checkRequest(req: ExplainRequest, nFeatures: number): void {
  if (req.nFeatures !== nFeatures) throw new ExplainError(`expected rows of ${nFeatures} features, got ${req.nFeatures}`);
  if (req.nRows < 1) throw new ExplainError('the request holds no rows to explain');
}

const KNOWN: Record<ExplainerType, string[]> = {
  TreeShap: ['feature_names', 'interactions', 'approximate', 'check_additivity', 'tree_limit', 'summarise_result'],
  KernelShap: ['feature_names', 'link', 'nsamples', 'max_exact_features', 'n_background_samples', 'batch_rows', 'seed', 'output', 'task'],
  LinearShap: ['feature_names', 'n_background_samples'],
  AnchorTabular: [
    'feature_names', 'threshold', 'delta', 'tau', 'batch_size', 'coverage_samples', 'beam_size', 'stop_on_first', 'max_anchor_size',
    'min_samples_start', 'max_samples_start', 'n_covered_ex', 'binary_cache_size', 'cache_margin', 'verbose', 'verbose_every', 'seed',
    'disc_perc', 'output',
  ],
};

/** The canonical type name (case and underscores ignored), or an error naming the ones implemented. */
export function explainerType(name: string): ExplainerType {
  const type = EXPLAINER_TYPES.find((t) => t.toLowerCase() === name.toLowerCase().replace(/_/g, ''));
  if (!type) throw new ExplainError(`unknown explainer type '${name}': modelfleet implements ${EXPLAINER_TYPES.join(', ')}`);
  return type;
}

export async function createExplainer(spec: ExplainerSpec, target: ExplainTarget, opts: ExplainerOptions): Promise<Explainer> {
  const type = explainerType(spec.type);
  const unknown = Object.keys(spec.config).filter((k) => !KNOWN[type].includes(k));
  if (unknown.length) opts.log?.(`explainer ${type}: ignoring config key(s) ${unknown.join(', ')}`);
  switch (type) {
    case 'TreeShap':
      return treeShapExplainer(spec, target, opts);
    case 'LinearShap':
      return linearShapExplainer(spec, target);
    case 'KernelShap':
      return kernelShapExplainer(spec, target);
    case 'AnchorTabular':
      return anchorExplainer(spec, target);
  }
}

async function treeShapExplainer(spec: ExplainerSpec, target: ExplainTarget, opts: ExplainerOptions): Promise<Explainer> {
  if (!target.native) throw new ExplainError('TreeShap needs a model on the native engine (xgboost, sklearn trees); use KernelShap for this one');
  const c = spec.config;
  const interactionsDefault = c.interactions !== undefined && parseBool(c.interactions, 'interactions');
  if (c.approximate !== undefined && parseBool(c.approximate, 'approximate')) throw new ExplainError('approximate (Saabas) TreeShap is not implemented: exact values are cheap here');
  const native = target.native;
  const view: TreeView = treeViewOf(native);
  const names = namesFrom(c);
  // Microseconds per explained row, from one timed row after a warm-up: larger requests go to worker threads.
  const probe = new Float64Array(view.nFeatures);
  treeShap(view, probe, 1);
  const t0 = performance.now();
  treeShap(view, probe, 1);
  const usPerRow = Math.max(1, (performance.now() - t0) * 1000);
  const pool =
    opts.workers > 0
      ? new Piscina({ filename: WORKER, minThreads: 0, maxThreads: opts.workers, idleTimeout: 60_000, workerData: { model: native.toTransferable() } })
      : undefined;
  opts.log?.(`explainer TreeShap: ${view.trees.treeRoot.length} trees, ${view.nOutputs} output(s), about ${usPerRow.toPrecision(2)} us per row`);
  return {
    type: 'TreeShap',
    async explain(req) {
      checkRequest(req, view.nFeatures);
      const p = req.params ?? {};
      const interactions = p.interactions === undefined ? interactionsDefault : parseBool(p.interactions, 'interactions');
      // Interaction values cost two conditioned passes per used feature.
      const cost = req.nRows * usPerRow * (interactions ? 2 * view.nFeatures + 1 : 1);
      let r: TreeShapResult;
      if (pool && cost > opts.inlineBudgetUs) {
        const out = (await pool.run({ X: req.X, nRows: req.nRows, interactions } satisfies TreeShapTask)) as TreeShapResult | { error: string };
        if ('error' in out) throw new ExplainError(out.error);
        r = out;
      } else {
        r = treeShap(view, req.X, req.nRows, interactions);
      }
      const K = view.nOutputs, M = view.nFeatures;
      const prediction = new Float64Array(req.nRows * K);
      for (let i = 0; i < req.nRows; i++) {
        for (let k = 0; k < K; k++) {
          let s = r.expected[k];
          for (let j = 0; j < M; j++) s += r.values[k][i * M + j];
          prediction[i * K + k] = s;
        }
      }
      return shapExplanation({
        name: 'TreeShap',
        whitebox: true,
        task: view.task,
        params: { model_output: 'raw', summarise_background: false, summarise_result: null, approximate: false, interactions, explain_loss: false, algorithm: 'tree_path_dependent', kwargs: {} },
        values: r.values,
        expected: r.expected,
        nRows: req.nRows,
        nFeatures: M,
        featureNames: req.names ?? names,
        instances: req.X,
        rawPrediction: prediction,
        interactions: r.interactions,
      });
    },
    async close() {
      await pool?.destroy();
    },
  };
}

function linearShapExplainer(spec: ExplainerSpec, target: ExplainTarget): Explainer {
  if (!target.native) throw new ExplainError('LinearShap needs a linear model on the native engine; use KernelShap for this one');
  const bg = needBackground(spec);
  const lin = new LinearShap(target.native, bg);
  const names = namesFrom(spec.config, bg);
  return {
    type: 'LinearShap',
    async explain(req) {
      checkRequest(req, lin.nFeatures);
      const r = lin.explain(req.X, req.nRows);
      return shapExplanation({
        name: 'LinearShap',
        whitebox: true,
        task: lin.task,
        params: { link: 'identity', feature_perturbation: 'interventional', background_rows: bg.nRows },
        values: r.values,
        expected: r.expected,
        nRows: req.nRows,
        nFeatures: lin.nFeatures,
        featureNames: req.names ?? names,
        instances: req.X,
        rawPrediction: r.prediction,
      });
    },
    async close() {},
  };
}

function kernelShapExplainer(spec: ExplainerSpec, target: ExplainTarget): Explainer {
  const c = spec.config;
  const full = needBackground(spec);
  const nBackground = c.n_background_samples === undefined ? 100 : parseNumber(c.n_background_samples, 'n_background_samples', { min: 1, integer: true });
  const bg = subsample(full, nBackground);
  const link = (c.link ?? 'identity') as 'identity' | 'logit';
  if (link !== 'identity' && link !== 'logit') throw new ExplainError(`link must be identity or logit, got '${link}'`);
  const options = {
    link,
    maxExactFeatures: c.max_exact_features === undefined ? 12 : parseNumber(c.max_exact_features, 'max_exact_features', { min: 0, max: 20, integer: true }),
    nsamples: c.nsamples === undefined ? undefined : parseNumber(c.nsamples, 'nsamples', { min: 2, integer: true }),
    batchRows: c.batch_rows === undefined ? 16384 : parseNumber(c.batch_rows, 'batch_rows', { min: 1, integer: true }),
    seed: c.seed === undefined ? 0 : parseNumber(c.seed, 'seed', { integer: true }),
  };
  const ks = new KernelShap(bg.X, bg.nRows, bg.nFeatures, target.predict, options);
  const names = namesFrom(c, full);
  if (c.task !== undefined && c.task !== 'classification' && c.task !== 'regression') throw new ExplainError(`task must be classification or regression, got '${c.task}'`);
  const taskOf = (outputs: number) => (c.task as 'classification' | 'regression' | undefined) ?? target.task ?? (outputs > 1 ? 'classification' : 'regression');
  return {
    type: 'KernelShap',
    async explain(req) {
      checkRequest(req, bg.nFeatures);
      const p = req.params ?? {};
      const nsamples = p.nsamples === undefined || p.nsamples === 'auto' ? undefined : parseNumber(p.nsamples, 'nsamples', { min: 2, integer: true });
      const r = await ks.explain(req.X, req.nRows, nsamples ?? options.nsamples);
      return shapExplanation({
        name: 'KernelShap',
        whitebox: false,
        task: taskOf(r.values.length),
        params: {
          link,
          group_names: null,
          grouped: false,
          groups: null,
          weights: null,
          summarise_background: bg.nRows < full.nRows,
          summarise_result: null,
          transpose: false,
          kwargs: { nsamples: r.exact ? 2 ** bg.nFeatures : (nsamples ?? options.nsamples ?? 2 * bg.nFeatures + 2048), exact: r.exact, l1_reg: false },
        },
        values: r.values,
        expected: r.expected,
        nRows: req.nRows,
        nFeatures: bg.nFeatures,
        featureNames: req.names ?? names,
        instances: req.X,
        rawPrediction: r.prediction,
      });
    },
    async close() {},
  };
}

function anchorExplainer(spec: ExplainerSpec, target: ExplainTarget): Explainer {
  const bg = needBackground(spec);
  const names = namesFrom(spec.config, bg);
  const anchor = new AnchorTabular(bg, target.predict, spec.config, names);
  return {
    type: 'AnchorTabular',
    async explain(req) {
      checkRequest(req, bg.nFeatures);
      // Seldon's explainer (and alibi) explains the first row only.
      return anchor.explain(req.X.subarray(0, bg.nFeatures), req.params ?? {});
    },
    async close() {},
  };
}
