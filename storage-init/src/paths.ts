import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Local forms are used in place: plain paths, file:// URIs and pvc://claim/path (mounted at /mnt/pvc). */
export function localPathOf(uri: string): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (uri.startsWith('pvc://')) {
    const rest = uri.slice('pvc://'.length);
    const slash = rest.indexOf('/');
    return path.join('/mnt/pvc', slash < 0 ? '' : rest.slice(slash + 1));
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return path.resolve(uri);
  return undefined;
}

/** Splits `scheme://bucket/key` into its parts; the key has no leading slash and may be empty (whole bucket). */
export function parseBucketUri(uri: string): { scheme: string; bucket: string; key: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]+)\/*(.*)$/i.exec(uri);
  if (!m) return undefined;
  return { scheme: m[1].toLowerCase(), bucket: m[2], key: m[3] };
}

/** Per-URI cache folder, so that a second start with the same URI finds the first one's copy. */
export function cacheDirFor(uri: string, env: NodeJS.ProcessEnv): string {
  const root = env.MODELFLEET_CACHE_DIR || path.join(env.HOME || os.homedir(), '.cache', 'modelfleet', 'models');
  return path.join(root, createHash('sha256').update(uri).digest('hex').slice(0, 16));
}

/**
 * The path, relative to the destination, of a remote object or archive entry; undefined when the name would land
 * outside the destination (absolute, `..`, NUL) so the caller can refuse it.
 */
export function safeRelative(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  if (name.startsWith('/')) return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (!parts.length || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}
