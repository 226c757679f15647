import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { REPO } from './server.js';

/**
 * podman with the repository's private settings (deploy/scripts/podman-env.sh: runc, ulimits, a store outside the
 * repository), the way README "Deploy" tells users of machines like this one to run it.
 */
let envPromise: Promise<Record<string, string>> | undefined;
export function podmanEnv(): Promise<Record<string, string>> {
  envPromise ??= (async () => {
    const { stdout } = await promisify(execFile)('bash', ['-c', `. ${REPO}deploy/scripts/podman-env.sh && echo "$CONTAINERS_CONF" && echo "$CONTAINERS_STORAGE_CONF" && echo "$MODELFLEET_PODMAN_DIR"`]);
    const [conf, storage, dir] = stdout.trim().split('\n');
    return { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, MODELFLEET_PODMAN_DIR: dir };
  })();
  return envPromise;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with the podman env; never throws on a non-zero exit. */
export async function run(bin: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const env = { ...process.env, ...(await podmanEnv()), ...(opts.env ?? {}) };
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} did not finish in ${opts.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 300_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const podman = (args: string[], timeoutMs?: number) => run('podman', args, { timeoutMs });

/** podman that must succeed: returns stdout, throws with its output otherwise. */
export async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

/** A port the OS says is free on loopback now (containers on the host network bind it themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls a URL until it answers 200; returns the milliseconds it took. */
export async function waitHttp200(url: string, timeoutMs: number, logs: () => Promise<string>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return Date.now() - start;
    } catch {
      // not bound yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready in ${timeoutMs} ms:\n${await logs()}`);
}
