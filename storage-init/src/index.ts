import { stat } from 'node:fs/promises';
import { StorageError } from './errors.js';
import { localPathOf, parseBucketUri } from './paths.js';
import { isGcsType, rcloneRemote } from './rclone.js';
import type { Backend } from './remote.js';

export { StorageError } from './errors.js';
export { localPathOf, cacheDirFor } from './paths.js';
export { MARKER } from './marker.js';

export interface FetchOptions {
  /** Where a remote model lands. Without it, a per-URI folder in the cache directory. Local URIs ignore it. */
  dest?: string;
  log?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Returns a local path holding the model named by `uri`. */
export async function fetchModel(uri: string, options: FetchOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const local = localPathOf(uri);
  if (local !== undefined) {
    try {
      await stat(local);
    } catch {
      throw new StorageError(`model URI ${uri}: ${local} does not exist`, uri);
    }
    return local;
  }
  let backend: Backend;
  try {
    backend = await backendFor(uri, env, options.log);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`${uri}: ${(err as Error).message}`, uri, { cause: err });
  }
  const { fetchRemote } = await import('./remote.js');
  return fetchRemote(uri, backend, { dest: options.dest, log: options.log, env });
}

/**
 * Picks the storage by scheme; an unknown scheme works when an rclone remote of that name says s3 or gcs. The cloud
 * SDKs load only when a URI needs them: a server with a local model starts without paying for them.
 */
async function backendFor(uri: string, env: NodeJS.ProcessEnv, log?: (m: string) => void): Promise<Backend> {
  const scheme = uri.slice(0, uri.indexOf('://')).toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    const { HttpBackend } = await import('./http.js');
    return new HttpBackend(uri, env);
  }
  const rcloneType = rcloneRemote(scheme, env)?.type;
  const kind = scheme === 's3' || (scheme !== 'gs' && rcloneType === 's3') ? 's3' : scheme === 'gs' || isGcsType(rcloneType) ? 'gcs' : undefined;
  if (!kind) {
    throw new StorageError(`model URI ${uri}: scheme ${scheme}:// is not supported (use gs://, s3://, http(s)://, file://, pvc:// or a path)`, uri);
  }
  const parts = parseBucketUri(uri);
  if (!parts) throw new StorageError(`model URI ${uri}: expected ${scheme}://bucket/prefix`, uri);
  if (kind === 's3') {
    const { S3Backend, s3Settings } = await import('./s3.js');
    const concurrency = Number(env.STORAGE_INIT_CONCURRENCY ?? env.S3_MAX_FILE_CONCURRENCY) || 4;
    return new S3Backend(uri, parts.bucket, parts.key, s3Settings(scheme, env), Math.max(concurrency, 4) + 2, log);
  }
  const { GcsBackend, gcsSettings } = await import('./gcs.js');
  return new GcsBackend(parts.bucket, parts.key, gcsSettings(scheme, env), log);
}
