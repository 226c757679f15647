import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Python module name -> the Debian package (none for libraries Debian does not ship) and the pip name. */
const PROVIDERS: Record<string, { apt?: string; pip: string }> = {
  sklearn: { apt: 'python3-sklearn', pip: 'scikit-learn' },
  numpy: { apt: 'python3-numpy', pip: 'numpy' },
  joblib: { apt: 'python3-joblib', pip: 'joblib' },
  xgboost: { apt: 'python3-xgboost', pip: 'xgboost' },
  pandas: { apt: 'python3-pandas', pip: 'pandas' },
  onnx: { apt: 'python3-onnx', pip: 'onnx' },
  yaml: { apt: 'python3-yaml', pip: 'pyyaml' },
  torch: { apt: 'python3-torch', pip: 'torch' },
  grpc: { apt: 'python3-grpcio', pip: 'grpcio' },
  cloudpickle: { apt: 'python3-cloudpickle', pip: 'cloudpickle' },
  lightgbm: { pip: 'lightgbm' },
  tensorflow: { pip: 'tensorflow' },
  keras: { pip: 'keras' },
  mlflow: { pip: 'mlflow' },
};

export interface PythonInterpreter {
  bin: string;
  version: string;
}

export class PythonNotFoundError extends Error {
  constructor(readonly modules: string[], readonly tried: Array<{ bin: string; problem: string }>) {
    const need = modules.map((m) => PROVIDERS[m] ?? { apt: `python3-${m}`, pip: m });
    const pip = `pip install ${need.map((n) => n.pip).join(' ')}`;
    // apt only when Debian packages every one of them; otherwise pip is the one command that works.
    const install = need.every((n) => n.apt) ? `apt-get install -y ${need.map((n) => n.apt).join(' ')}  (or: ${pip})` : pip;
    super(
      `No usable Python interpreter: need ${modules.length ? `the module(s) ${modules.join(', ')}` : 'python3'}.\n` +
        tried.map((t) => `  ${t.bin}: ${t.problem}`).join('\n') +
        `\nInstall with: ${install}, or point PYTHON_BIN at an interpreter that has them.`,
    );
    this.name = 'PythonNotFoundError';
  }
}

/** Interpreters to try, best first: the user's choice, then Debian's (where apt installs packages), then PATH. */
export function candidateInterpreters(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = [env.PYTHON_BIN, '/usr/bin/python3', 'python3', 'python'].filter((b): b is string => !!b);
  return [...new Set(list)];
}

const cache = new Map<string, Promise<PythonInterpreter>>();

/**
 * Finds the first interpreter that can import every module in `modules`. With PYTHON_BIN set, only that one is
 * accepted: silently falling back to another interpreter would hide a broken configuration.
 */
export function findPython(modules: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<PythonInterpreter> {
  const key = `${env.PYTHON_BIN ?? ''}|${modules.join(',')}`;
  let found = cache.get(key);
  if (!found) {
    found = probeAll(modules, env);
    found.catch(() => cache.delete(key));
    cache.set(key, found);
  }
  return found;
}

async function probeAll(modules: string[], env: NodeJS.ProcessEnv): Promise<PythonInterpreter> {
  const tried: Array<{ bin: string; problem: string }> = [];
  const candidates = env.PYTHON_BIN ? [env.PYTHON_BIN] : candidateInterpreters(env);
  for (const bin of candidates) {
    const problem = await probe(bin, modules);
    if (typeof problem !== 'string') return problem;
    tried.push({ bin, problem });
  }
  throw new PythonNotFoundError(modules, tried);
}

async function probe(bin: string, modules: string[]): Promise<PythonInterpreter | string> {
  // One import per line so the error names the first missing module.
  const code = ['import sys', ...modules.map((m) => `import ${m}`), 'print(sys.version.split()[0])'].join('\n');
  try {
    const { stdout } = await run(bin, ['-c', code], { timeout: 60_000 });
    return { bin, version: stdout.trim() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return 'not found';
    const missing = /No module named '([^']+)'/.exec(e.stderr ?? '');
    return missing ? `cannot import ${missing[1]}` : (e.stderr ?? e.message).trim().split('\n').pop() ?? 'failed';
  }
}
