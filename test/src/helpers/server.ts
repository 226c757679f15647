import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${REPO}shared/dist/cli.js`;
/** Native exports cached by the servers a test file starts: its own folder, not the user's ~/.cache. */
export const TEST_CACHE_DIR = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-test-cache-'));

export interface ServerProcess {
  url: string;
  /** host:port of the gRPC server, when it serves gRPC. */
  grpcTarget?: string;
  metricsUrl: string;
  proc: ChildProcess;
  logs(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Spawns a real server process with ports chosen by the OS (0) on loopback, and resolves once it has bound
 * (parsed from its start-up log line). `command` is the script and its arguments.
 */
export function spawnServer(command: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, command, {
    env: {
      ...process.env,
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '0',
      PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '0',
      MODELFLEET_HOST: '127.0.0.1',
      MODELFLEET_WORKERS: '1',
      // One server process unless a test asks for more (the default is one per CPU): tests inspect one process,
      // and the machine running them is shared.
      MODELFLEET_HTTP_PROCESSES: '1',
      MODELFLEET_CACHE_DIR: TEST_CACHE_DIR,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    // A server that never binds is killed, or it would hold the test file (and the suite) open.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not bind in 120 s:\n${out}`));
    }, 120_000);
    const onData = () => {
      const m = /HTTP on :(\d+), (?:gRPC on :(\d+), )?metrics on :(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      resolve({
        url: `http://127.0.0.1:${m[1]}`,
        ...(m[2] ? { grpcTarget: `127.0.0.1:${m[2]}` } : {}),
        metricsUrl: `http://127.0.0.1:${m[3]}`,
        proc,
        logs: () => out,
        exited,
        stop: async (signal = 'SIGTERM') => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
      });
    };
    proc.stderr!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before binding:\n${out}`));
    });
  });
}

export const serveCli = (args: string[], env?: Record<string, string>) => spawnServer([CLI, 'serve', ...args], env);

/** Polls readiness until 200 (or throws with the server log after the timeout). */
export async function waitReady(server: ServerProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.proc.exitCode !== null) throw new Error(`server exited (${server.proc.exitCode}):\n${server.logs()}`);
    try {
      const r = await fetch(`${server.url}/v2/health/ready`);
      if (r.status === 200) return;
    } catch {
      // not accepting yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not ready after ${timeoutMs} ms:\n${server.logs()}`);
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

/** Runs a process to completion (for start-up errors); returns its exit code and output. */
export function runToExit(command: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, command, { env: { ...process.env, MODELFLEET_HTTP_PROCESSES: '1', MODELFLEET_CACHE_DIR: TEST_CACHE_DIR, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d) => (output += d));
    proc.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`did not exit in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
