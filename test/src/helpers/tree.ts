import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Every regular file under `dir` by relative path (dotfiles such as the completion marker left out). */
export async function readTree(dir: string, prefix = ''): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    if (!prefix && ent.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${ent.name}` : ent.name;
    if (ent.isDirectory()) Object.assign(out, await readTree(path.join(dir, ent.name), rel));
    else out[rel] = await readFile(path.join(dir, ent.name));
  }
  return out;
}

export async function tempDir(name: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `mf-${name}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic but incompressible-looking bytes, cheaper than crypto.randomBytes for 100 MiB. */
export function bytes(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (let i = size - (size % 4); i < size; i++) b[i] = i & 0xff;
  return b;
}

/** Collects log lines, to check what a user would see. */
export function logSink(): { log: (m: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (m) => void lines.push(m) };
}
