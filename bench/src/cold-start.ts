import { firstOk, pssMiB, startProcess } from './processes.js';

/**
 * Idle memory is read this long after the first 200, once anything a server does after its first answer (a Python
 * exporter exiting, a collection) has settled. grpc-js and the engines' worker threads load only when used (the first
 * gRPC connection, the first request too large to run inline), so a server that has served one small REST request
 * holds neither.
 */
export const IDLE_AFTER_MS = 1500;

export interface ColdStartSpec {
  name: string;
  args: string[];
  env?: Record<string, string>;
  probe: { path: string; body: string };
  /** Runs before each start (e.g. emptying a cache so every start is a first one). */
  before?: () => void;
  /** One unmeasured start first (fills a cache: the measured ones are restarts). */
  warm?: boolean;
  /** Wait before reading idle memory (processes that start after the first answer). */
  settleMs?: number;
}

export interface ColdStart {
  name: string;
  /** Median launch -> first 200 over the runs, ms. */
  medianMs: number;
  runs: number[];
  /** Idle PSS of the process tree IDLE_AFTER_MS after its first 200, MiB. */
  idleMiB: number;
}

/** Each spec started `runs` times in turn (so load drifts hit all alike): launch -> first 200, then stopped. */
export async function coldStarts(specs: ColdStartSpec[], runs: number): Promise<ColdStart[]> {
  const out = specs.map((s) => ({ name: s.name, runs: [] as number[], idle: [] as number[] }));
  for (const spec of specs.filter((s) => s.warm)) {
    const proc = await startProcess(spec.args, spec.env);
    await firstOk(proc, spec.probe.path, spec.probe.body);
    await proc.stop();
  }
  for (let i = 0; i < runs; i++) {
    for (const [k, spec] of specs.entries()) {
      spec.before?.();
      const proc = await startProcess(spec.args, spec.env);
      try {
        out[k].runs.push(await firstOk(proc, spec.probe.path, spec.probe.body));
        await new Promise((r) => setTimeout(r, spec.settleMs ?? IDLE_AFTER_MS));
        out[k].idle.push(pssMiB(proc.child.pid!));
      } finally {
        await proc.stop();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return out.map((o) => ({ name: o.name, medianMs: median(o.runs), runs: o.runs, idleMiB: median(o.idle) }));
}
