import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export const WORKER_SCRIPT = fileURLToPath(new URL('../../python/modelfleet_worker.py', import.meta.url));

export interface Frame {
  header: Record<string, unknown>;
  blob: Buffer;
}

export class PythonExitedError extends Error {
  constructor(readonly pid: number | undefined, readonly reason: string) {
    super(`python process ${pid ?? '?'} exited (${reason})`);
    this.name = 'PythonExitedError';
  }
}

/**
 * One Python process speaking modelfleet's framed protocol on fds 3/4 (see shared/python/modelfleet_worker.py).
 * It runs one request at a time; if it dies, the request it holds is rejected with PythonExitedError.
 */
export class PythonProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  private readonly out: Writable;
  private pending?: { resolve: (f: Frame) => void; reject: (e: Error) => void };
  private chunks: Buffer[] = [];
  private have = 0;
  private need = 8;
  private dead?: string;

  constructor(bin: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(bin, ['-u', WORKER_SCRIPT], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'],
      env: {
        // One BLAS thread per process: the pool already puts one process on each core.
        OMP_NUM_THREADS: '1',
        OPENBLAS_NUM_THREADS: '1',
        MKL_NUM_THREADS: '1',
        ...env,
      },
    });
    this.out = this.child.stdio[3] as Writable;
    const input = this.child.stdio[4] as Readable;
    input.on('data', (d: Buffer) => this.onData(d));
    this.out.on('error', () => {}); // EPIPE when the process died: reported through 'exit'
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => this.die(err.message, resolve));
      this.child.once('exit', (code, signal) => this.die(signal ?? `code ${code}`, resolve));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  private die(reason: string, resolve: (r: string) => void): void {
    if (this.dead !== undefined) return;
    this.dead = reason;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new PythonExitedError(this.pid, reason));
    resolve(reason);
  }

  /** Sends one request and resolves with the reply frame. */
  call(header: Record<string, unknown>, blob?: Buffer): Promise<Frame> {
    if (this.dead !== undefined) return Promise.reject(new PythonExitedError(this.pid, this.dead));
    if (this.pending) return Promise.reject(new Error('python process is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const h = Buffer.from(JSON.stringify(header));
      const pre = Buffer.allocUnsafe(8);
      pre.writeUInt32LE(h.length, 0);
      pre.writeUInt32LE(blob?.length ?? 0, 4);
      this.out.write(blob?.length ? Buffer.concat([pre, h, blob]) : Buffer.concat([pre, h]));
    });
  }

  /** Accumulates chunks and copies once per frame (never Buffer.concat per chunk, which is quadratic). */
  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.have += d.length;
    while (this.have >= this.need) {
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
      const hl = buf.readUInt32LE(0);
      const total = 8 + hl + buf.readUInt32LE(4);
      if (buf.length < total) {
        this.chunks = [buf];
        this.need = total;
        return;
      }
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(buf.toString('utf8', 8, 8 + hl)) as Record<string, unknown>;
      } catch (err) {
        header = { error: { kind: 'internal', message: `unreadable reply from the Python worker: ${(err as Error).message}` } };
      }
      const blob = buf.subarray(8 + hl, total);
      const rest = buf.subarray(total);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
      this.need = 8;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ header, blob });
    }
  }

  kill(): void {
    if (this.dead === undefined) this.child.kill('SIGTERM');
  }
}
