import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Written last, once every file has landed and been size-checked: its presence (with the same URI and the same
 * file sizes) is what lets a second start reuse the copy instead of downloading again.
 */
export const MARKER = '.modelfleet-complete.json';

export interface Marker {
  uri: string;
  files: { path: string; size: number }[];
  bytes: number;
  completedAt: string;
}

export async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, MARKER), 'utf8')) as Marker;
    return typeof m?.uri === 'string' && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** True when `dir` holds a complete copy of `uri`: marker present and every recorded file still has its size. */
export async function isComplete(dir: string, uri: string): Promise<boolean> {
  const m = await readMarker(dir);
  if (!m || m.uri !== uri) return false;
  for (const f of m.files) {
    try {
      if ((await stat(path.join(dir, f.path))).size !== f.size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Regular files under `dir` (relative paths, sizes), the marker and our staging folders excluded. */
export async function listFiles(dir: string, prefix = ''): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    if (!prefix && (ent.name === MARKER || ent.name.startsWith(STAGING_PREFIX))) continue;
    const rel = prefix ? `${prefix}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...(await listFiles(path.join(dir, ent.name), rel)));
    else if (ent.isFile()) out.push({ path: rel, size: (await stat(path.join(dir, ent.name))).size });
  }
  return out;
}

export async function writeMarker(dir: string, uri: string, files: { path: string; size: number }[]): Promise<void> {
  const marker: Marker = { uri, files, bytes: files.reduce((a, f) => a + f.size, 0), completedAt: new Date().toISOString() };
  await writeFile(path.join(dir, MARKER), JSON.stringify(marker, null, 1) + '\n');
}

/** Name of the temporary folders a download uses before it is moved into place. */
export const STAGING_PREFIX = '.storage-init-partial-';
