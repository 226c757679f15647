import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FetchOptions {
  /** Where a remote model lands. Without it, a per-URI folder in the cache directory. Local URIs ignore it. */
  dest?: string;
  log?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

export class StorageError extends Error {
  constructor(message: string, readonly uri: string) {
    super(message);
    this.name = 'StorageError';
  }
}

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

/** Returns a local path holding the model named by `uri`. */
export async function fetchModel(uri: string, options: FetchOptions = {}): Promise<string> {
  const local = localPathOf(uri);
  if (local !== undefined) {
    try {
      await stat(local);
    } catch {
      throw new StorageError(`model URI ${uri}: ${local} does not exist`, uri);
    }
    return local;
  }
  const scheme = uri.slice(0, uri.indexOf('://'));
  options.log?.(`fetching ${uri}`);
  throw new StorageError(`model URI ${uri}: scheme ${scheme}:// is not supported`, uri);
}
