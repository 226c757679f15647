/**
 * The Python bridge: modelfleet's framed pipe against pythonia, each serving the same language-wrapper class (KNN on
 * iris) over Seldon REST with one Python process, at 1 and 16 in flight, 1 and 1000 rows; then what each does when
 * its Python process is killed in the middle of a request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startProcess, type Proc } from './processes.js';
import { wrk, type LoadResult } from './wrk.js';

export const KNN_CLASS = `import time
import numpy as np
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier


class KnnIris:
    def __init__(self):
        X, y = load_iris(return_X_y=True)
        self.model = KNeighborsClassifier(5).fit(X, y)

    def predict(self, X, features_names):
        X = np.asarray(X, dtype=float)
        if X[0, 0] == 666:  # the crash test's request: long enough to kill the process under it
            time.sleep(3)
        return self.model.predict_proba(X)
`;

export interface BridgeRow extends LoadResult {
  bridge: string;
  rows: number;
  inFlight: number;
}

export interface CrashOutcome {
  bridge: string;
  /** What the client got for the request whose Python was killed. */
  killed: string;
  /** The next request's status. */
  next: string;
}

function pythonChild(pid: number): number | undefined {
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && /python/.test(readFileSync(`/proc/${name}/cmdline`, 'utf8'))) return Number(name);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

async function answer(url: string, body: string, timeoutMs: number): Promise<string> {
  const t0 = performance.now();
  try {
    const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    return `${r.status} after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${text.slice(0, 120)}`;
  } catch (err) {
    return `no answer (${(err as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs / 1000} s` : (err as Error).message})`;
  }
}

async function crash(bridge: string, proc: Proc, path: string): Promise<CrashOutcome> {
  const url = `${proc.url}${path}`;
  const pending = answer(url, JSON.stringify({ data: { ndarray: [[666, 1, 1, 1]] } }), 15_000);
  await new Promise((r) => setTimeout(r, 1000));
  const py = pythonChild(proc.child.pid!) ?? (() => { throw new Error(`${bridge}: no Python process found`); })();
  process.kill(py, 'SIGKILL');
  const killed = await pending;
  const next = await answer(url, JSON.stringify({ data: { ndarray: [[5.1, 3.5, 1.4, 0.2]] } }), 30_000);
  return { bridge, killed, next };
}

export async function compareBridges(
  servers: Array<{ bridge: string; args: string[]; env?: Record<string, string> }>,
  body: (rows: number) => string,
  opts: { seconds: number; warmup: number; work: string },
): Promise<{ rows: BridgeRow[]; crashes: CrashOutcome[] }> {
  const rows: BridgeRow[] = [];
  const crashes: CrashOutcome[] = [];
  const path = '/api/v1.0/predictions';
  for (const s of servers) {
    const proc = await startProcess(s.args, s.env);
    try {
      // Ready when a prediction answers (the class loads after the port binds).
      for (let ok = false; !ok; ) ok = (await answer(`${proc.url}${path}`, body(1), 30_000)).startsWith('200');
      for (const n of [1, 1000]) {
        for (const inFlight of [1, 16]) {
          const load = { url: `${proc.url}${path}`, body: body(n), headers: { 'content-type': 'application/json' }, connections: inFlight };
          await wrk({ ...load, seconds: opts.warmup }, opts.work);
          const r = await wrk({ ...load, seconds: opts.seconds }, opts.work);
          rows.push({ bridge: s.bridge, rows: n, inFlight, ...r });
          process.stderr.write(`bridge ${s.bridge.padEnd(40)} ${n} rows, ${inFlight} in flight: ${r.rps.toFixed(0)} req/s p50 ${r.p50.toFixed(2)} ms errors ${r.errors}\n`);
        }
      }
      crashes.push(await crash(s.bridge, proc, path));
      process.stderr.write(`bridge ${s.bridge}: Python killed mid-request -> ${crashes.at(-1)!.killed}; next -> ${crashes.at(-1)!.next}\n`);
    } finally {
      await proc.stop();
    }
  }
  return { rows, crashes };
}
