import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  url: string;
  grpcTarget?: string;
  child: ChildProcess;
  startedAt: number;
  stop(): Promise<void>;
}

/** Starts a server process and resolves once it logged its bound port. */
export function startProcess(args: string[], env: Record<string, string> = {}): Promise<Proc> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    // One server process each unless a spec asks for more: ratios compare one event loop with one.
    env: { ...process.env, PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0', PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0', PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0', MODELFLEET_HOST: '127.0.0.1', MODELFLEET_HTTP_PROCESSES: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      log += d;
      const m = /HTTP on :(\d+)(?:, gRPC on :(\d+))?/.exec(log);
      if (m && log.length - d.length < m.index + m[0].length) {
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          ...(m[2] ? { grpcTarget: `127.0.0.1:${m[2]}` } : {}),
          child,
          startedAt,
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
}

/** Polls a request until it answers 200; returns ms since the process was spawned (cold start to first 200). */
export async function firstOk(proc: Proc, path: string, body: string): Promise<number> {
  for (;;) {
    try {
      const r = await fetch(`${proc.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - proc.startedAt;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** Proportional set size of a process and all its descendants (Python workers included), in MiB. */
export function pssMiB(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}
