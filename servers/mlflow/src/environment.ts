/**
 * What the model declares about its environment (requirements.txt, conda.yaml, python_env.yaml, the flavors'
 * library versions) against what the serving interpreter has. Seldon builds the declared environment at start-up;
 * modelfleet serves at once with the interpreter it has, and says where the two differ.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { MlflowModel } from './mlmodel.js';

const run = promisify(execFile);

export interface Requirement {
  /** Normalised distribution name (lower case, `-`). */
  name: string;
  /** e.g. "==1.3.0", ">=1.2,<2"; empty when unpinned. */
  spec: string;
  source: string;
}

export interface DeclaredEnvironment {
  requirements: Requirement[];
  python?: { version: string; source: string };
}

export interface VersionCheck {
  package: string;
  declared: string;
  installed: string | null;
  ok: boolean;
  source: string;
}

export interface EnvironmentReport {
  python?: { declared: string; installed: string; ok: boolean };
  packages: VersionCheck[];
  mismatches: VersionCheck[];
}

/** modelfleet stands in for MLflow, and build tools do not change predictions. */
const NOT_COMPARED = new Set(['mlflow', 'mlflow-skinny', 'pip', 'setuptools', 'wheel']);
/** Library versions some flavors record, used when no environment file pins the library. */
const FLAVOR_VERSIONS: Record<string, [string, string]> = {
  sklearn: ['sklearn_version', 'scikit-learn'],
  xgboost: ['xgb_version', 'xgboost'],
  lightgbm: ['lgb_version', 'lightgbm'],
  pytorch: ['pytorch_version', 'torch'],
  onnx: ['onnx_version', 'onnx'],
  keras: ['keras_version', 'keras'],
};

const normalise = (name: string) => name.toLowerCase().replace(/[_.]+/g, '-');

/** `name[extra]>=1,<2 ; marker` -> Requirement; options, includes, URLs and paths give undefined. */
export function parseRequirement(line: string, source: string): Requirement | undefined {
  const text = line.replace(/\s+#.*$/, '').split(';')[0].trim();
  if (!text || text.startsWith('#') || text.startsWith('-') || text.includes('://') || text.startsWith('.') || text.startsWith('/')) return undefined;
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$/.exec(text);
  if (!m) return undefined;
  return { name: normalise(m[1]), spec: m[2].replace(/\s+/g, ''), source };
}

/** conda's `name=1.2` (any 1.2.x) / `name==1.2` / `name>=1.2` dependency strings. */
function parseConda(dep: string, source: string): Requirement | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$/.exec(dep.trim());
  if (!m) return undefined;
  const spec = m[2].replace(/\s+/g, '');
  return { name: normalise(m[1]), spec: /^=[^=]/.test(spec) ? `=${spec}.*` : spec, source };
}

function readYaml(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  const doc = parseYaml(readFileSync(file, 'utf8')) as unknown;
  return doc && typeof doc === 'object' ? (doc as Record<string, unknown>) : undefined;
}

/** Declared packages, first source wins: requirements.txt, python_env.yaml, conda.yaml, then the flavors' fields. */
export function declaredEnvironment(model: MlflowModel): DeclaredEnvironment {
  const found = new Map<string, Requirement>();
  const add = (r: Requirement | undefined) => {
    if (r && !found.has(r.name)) found.set(r.name, r);
  };
  const req = path.join(model.root, 'requirements.txt');
  if (existsSync(req)) for (const line of readFileSync(req, 'utf8').split(/\r?\n/)) add(parseRequirement(line, 'requirements.txt'));

  let python: DeclaredEnvironment['python'];
  const pyEnv = readYaml(path.join(model.root, 'python_env.yaml'));
  if (pyEnv) {
    if (pyEnv.python !== undefined) python = { version: String(pyEnv.python), source: 'python_env.yaml' };
    for (const d of Array.isArray(pyEnv.dependencies) ? pyEnv.dependencies : []) add(parseRequirement(String(d), 'python_env.yaml'));
  }
  const conda = readYaml(path.join(model.root, 'conda.yaml'));
  for (const d of Array.isArray(conda?.dependencies) ? conda.dependencies : []) {
    if (typeof d === 'string') {
      const r = parseConda(d, 'conda.yaml');
      if (r?.name === 'python') python ??= { version: r.spec.replace(/^=+|\.\*$/g, ''), source: 'conda.yaml' };
      else add(r);
    } else if (d && typeof d === 'object' && Array.isArray((d as { pip?: unknown }).pip)) {
      for (const p of (d as { pip: unknown[] }).pip) add(parseRequirement(String(p), 'conda.yaml'));
    }
  }
  for (const [flavor, [field, pkg]] of Object.entries(FLAVOR_VERSIONS)) {
    const v = model.flavors[flavor]?.[field];
    if (v !== undefined && v !== null) add({ name: pkg, spec: `==${String(v)}`, source: `MLmodel flavors.${flavor}.${field}` });
  }
  const pyfuncPython = model.flavors.python_function?.python_version;
  if (!python && pyfuncPython !== undefined) python = { version: String(pyfuncPython), source: 'MLmodel python_version' };
  return { requirements: [...found.values()].filter((r) => !NOT_COMPARED.has(r.name)), python };
}

/** Numeric release segments of a PEP 440 version ("1.3.0rc1" -> [1, 3, 0]); local and pre parts are ignored. */
function release(v: string): number[] {
  return (/^\d+(\.\d+)*/.exec(v.trim())?.[0] ?? '0').split('.').map(Number);
}

function compare(a: string, b: string): number {
  const x = release(a);
  const y = release(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** Whether `installed` satisfies a specifier list such as "==1.3.*,!=1.3.1" (the operators pip users write). */
export function satisfies(installed: string, spec: string): boolean {
  if (!spec) return true;
  return spec.split(',').every((clause) => {
    const m = /^(===|==|!=|~=|>=|<=|>|<|=)(.+)$/.exec(clause);
    if (!m) return true; // not a version specifier we can judge: do not report it as a mismatch
    const [, op, want] = m;
    if ((op === '==' || op === '=' || op === '!=') && want.endsWith('*')) {
      const prefix = release(want.slice(0, -1).replace(/\.$/, ''));
      const same = prefix.every((p, i) => release(installed)[i] === p);
      return op === '!=' ? !same : same;
    }
    const c = compare(installed, want);
    switch (op) {
      case '===':
        return installed === want;
      case '==':
      case '=':
        return c === 0;
      case '!=':
        return c !== 0;
      case '>=':
        return c >= 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      case '<':
        return c < 0;
      default: {
        // ~=1.3.2 means >=1.3.2 and ==1.3.*
        const parts = release(want);
        const prefix = parts.slice(0, Math.max(1, parts.length - 1));
        return c >= 0 && prefix.every((p, i) => release(installed)[i] === p);
      }
    }
  });
}

const PROBE = `
import json, sys
from importlib import metadata
out = {"python": sys.version.split()[0], "packages": {}}
for name in json.loads(sys.argv[1]):
    try:
        out["packages"][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out["packages"][name] = None
print(json.dumps(out))
`;

/** Asks the interpreter for the installed version of every declared package, then compares. */
export async function checkEnvironment(declared: DeclaredEnvironment, pythonBin: string): Promise<EnvironmentReport> {
  const names = declared.requirements.map((r) => r.name);
  const { stdout } = await run(pythonBin, ['-c', PROBE, JSON.stringify(names)], { timeout: 60_000 });
  const found = JSON.parse(stdout) as { python: string; packages: Record<string, string | null> };
  const packages = declared.requirements.map((r): VersionCheck => {
    const installed = found.packages[r.name] ?? null;
    return { package: r.name, declared: r.spec || 'any', installed, ok: installed !== null && satisfies(installed, r.spec), source: r.source };
  });
  const report: EnvironmentReport = { packages, mismatches: packages.filter((p) => !p.ok) };
  if (declared.python) {
    // Python is compared on major.minor: patch releases do not change how a pickle loads.
    const [a, b] = [release(declared.python.version), release(found.python)];
    report.python = { declared: declared.python.version, installed: found.python, ok: a[0] === b[0] && (a[1] === undefined || a[1] === b[1]) };
  }
  return report;
}

export function describeMismatch(c: VersionCheck): string {
  return `${c.package}${c.declared === 'any' ? '' : c.declared} (${c.source}) but the interpreter has ${c.installed ?? 'none installed'}`;
}
