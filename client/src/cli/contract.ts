/**
 * Seldon's tester contract (contract.json: `features` and optional `targets`, each with `name`, `ftype`
 * continuous|categorical, `dtype` FLOAT|INT, `range` [lo, hi] with "inf"/"-inf" allowed, `values`, `shape`,
 * `repeat`) and random batches that honour every field, as seldon-core-microservice-tester generates them:
 * continuous uniform within a finite range, lognormal off a finite bound towards an infinite one, normal when
 * both are infinite; categorical drawn from `values`; INT rounded; `repeat` unfolds name1..nameN.
 */
import { rng } from '@modelfleet/shared/random';

export { rng };

export interface Feature {
  name: string;
  ftype: 'continuous' | 'categorical';
  dtype: 'FLOAT' | 'INT';
  range?: [number, number];
  values?: unknown[];
  /** Per-row shape of a tensor feature (e.g. [8, 8] pixels); absent is one value per row. */
  shape?: number[];
}

export interface Contract {
  features: Feature[];
  targets: Feature[];
}

export class ContractError extends Error {}

function bound(v: unknown, where: string): number {
  if (v === 'inf' || v === '+inf' || v === 'Infinity') return Infinity;
  if (v === '-inf' || v === '-Infinity') return -Infinity;
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  throw new ContractError(`${where}: range bounds must be numbers or "inf"/"-inf", got ${JSON.stringify(v)}`);
}

function parseFeature(raw: unknown, where: string): Feature[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ContractError(`${where} must be an object`);
  const f = raw as Record<string, unknown>;
  if (typeof f.name !== 'string' || !f.name) throw new ContractError(`${where} needs a "name"`);
  const at = `${where} (${f.name})`;
  const ftype = f.ftype ?? 'continuous';
  if (ftype !== 'continuous' && ftype !== 'categorical') throw new ContractError(`${at}: ftype must be "continuous" or "categorical", got ${JSON.stringify(ftype)}`);
  const dtype = String(f.dtype ?? 'FLOAT').toUpperCase();
  if (dtype !== 'FLOAT' && dtype !== 'INT') throw new ContractError(`${at}: dtype must be FLOAT or INT, got ${JSON.stringify(f.dtype)}`);
  const out: Feature = { name: f.name, ftype, dtype };
  if (ftype === 'continuous') {
    if (f.range === undefined) out.range = [-Infinity, Infinity];
    else {
      if (!Array.isArray(f.range) || f.range.length !== 2) throw new ContractError(`${at}: range must be [low, high]`);
      const lo = bound(f.range[0], at);
      const hi = bound(f.range[1], at);
      if (lo > hi) throw new ContractError(`${at}: range low ${lo} is above high ${hi}`);
      out.range = [lo, hi];
    }
  } else {
    if (!Array.isArray(f.values) || !f.values.length) throw new ContractError(`${at}: a categorical feature needs a non-empty "values" list`);
    out.values = f.values;
  }
  if (f.shape !== undefined) {
    if (!Array.isArray(f.shape) || !f.shape.length || !f.shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new ContractError(`${at}: shape must be a list of positive integers`);
    }
    out.shape = f.shape as number[];
  }
  const repeat = f.repeat ?? 1;
  if (!Number.isInteger(repeat) || (repeat as number) < 1) throw new ContractError(`${at}: repeat must be a positive integer`);
  if (repeat === 1) return [out];
  return Array.from({ length: repeat as number }, (_, i) => ({ ...out, name: `${f.name}${i + 1}` }));
}

export function parseContract(json: unknown): Contract {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ContractError('the contract must be a JSON object with "features"');
  const c = json as Record<string, unknown>;
  if (!Array.isArray(c.features) || !c.features.length) throw new ContractError('the contract needs a non-empty "features" list');
  const features = c.features.flatMap((f, i) => parseFeature(f, `features[${i}]`));
  if (c.targets !== undefined && !Array.isArray(c.targets)) throw new ContractError('"targets" must be a list');
  const targets = ((c.targets as unknown[] | undefined) ?? []).flatMap((f, i) => parseFeature(f, `targets[${i}]`));
  return { features, targets };
}

function normal(random: () => number): number {
  // Box-Muller; 1 - u keeps log away from 0.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function value(f: Feature, random: () => number): unknown {
  if (f.ftype === 'categorical') return f.values![Math.floor(random() * f.values!.length)];
  const [lo, hi] = f.range!;
  let v: number;
  if (Number.isFinite(lo) && Number.isFinite(hi)) v = lo + random() * (hi - lo);
  else if (Number.isFinite(lo)) v = lo + Math.exp(normal(random));
  else if (Number.isFinite(hi)) v = hi - Math.exp(normal(random));
  else v = normal(random);
  if (f.dtype === 'INT') {
    v = Math.round(v);
    // Rounding must not leave the range (e.g. [0.2, 0.8] has no integer: the nearest bound's integer is used).
    if (v < lo) v = Math.ceil(lo);
    if (v > hi) v = Math.floor(hi);
  }
  return v;
}

function block(shape: number[], gen: () => unknown): unknown {
  if (shape.length === 0) return gen();
  return Array.from({ length: shape[0] }, () => block(shape.slice(1), gen));
}

/**
 * `n` rows of random features. One shaped feature gives [n, ...shape] (an image batch); otherwise each row is the
 * features in order, shaped features flattened into it.
 */
export function generateBatch(contract: Contract, n: number, random: () => number): unknown[] {
  const fs = contract.features;
  if (fs.length === 1 && fs[0].shape) return Array.from({ length: n }, () => block(fs[0].shape!, () => value(fs[0], random)));
  return Array.from({ length: n }, () =>
    fs.flatMap((f) => (f.shape ? ([block(f.shape, () => value(f, random))] as unknown[]).flat(Infinity) : [value(f, random)])),
  );
}

export function featureNames(contract: Contract): string[] {
  return contract.features.map((f) => f.name);
}

/** Why an answer's values break the contract's targets (column count, ranges, categories), or undefined. */
export function checkTargets(targets: Feature[], rows: number, shape: number[], values: ArrayLike<unknown>): string | undefined {
  if (shape[0] !== rows) return `answered ${shape[0]} rows for ${rows} sent`;
  if (!targets.length) return undefined;
  const width = shape.slice(1).reduce((a, b) => a * b, 1);
  if (width !== targets.length) return `answered ${width} values per row, the contract's targets have ${targets.length}`;
  for (let i = 0; i < values.length; i++) {
    const t = targets[i % width];
    const v = values[i];
    if (t.ftype === 'categorical') {
      if (!t.values!.some((x) => x === v || String(x) === String(v))) return `target ${t.name}: ${String(v)} is not one of ${JSON.stringify(t.values)}`;
    } else {
      const x = Number(v);
      if (!(x >= t.range![0] && x <= t.range![1])) return `target ${t.name}: ${String(v)} is outside [${t.range![0]}, ${t.range![1]}]`;
    }
  }
  return undefined;
}
