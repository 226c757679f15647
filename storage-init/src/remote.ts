import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveKind, unpack } from './archive.js';
import { StorageError } from './errors.js';
import { MARKER, STAGING_PREFIX, isComplete, listFiles, readMarker, writeMarker } from './marker.js';
import { cacheDirFor } from './paths.js';
import { Progress, mib } from './progress.js';
import { mapLimit, PermanentError, withRetry } from './retry.js';

/** One object to fetch: its remote key and where it lands relative to the destination. */
export interface RemoteObject {
  key: string;
  rel: string;
  size?: number;
}

export interface Listing {
  objects: RemoteObject[];
  /** The URI named one object (not a prefix): an archive is then unpacked. */
  single: boolean;
}

/** What a storage scheme provides; the shared parts (staging, retries, sizes, archives, marker) live here. */
export interface Backend {
  list(): Promise<Listing>;
  open(obj: RemoteObject): Promise<{ body: Readable; size?: number }>;
  /** One line saying what went wrong, naming bucket, object and credential where it can. */
  explain(err: unknown): string;
  /** Where the objects come from (endpoint and bucket), for the deadline's message. */
  describe?(): string;
  close?(): void;
}

export interface RemoteOptions {
  dest?: string;
  log?: (message: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Downloads what `backend` lists into `dest` (or the URI's cache folder) and returns that folder. */
export async function fetchRemote(uri: string, backend: Backend, options: RemoteOptions): Promise<string> {
  const { env, log } = options;
  const explicit = options.dest !== undefined;
  const target = path.resolve(options.dest ?? cacheDirFor(uri, env));
  if (await isComplete(target, uri)) {
    log?.(`${uri}: reusing complete copy in ${target}`);
    return target;
  }
  // With an explicit dest (often a volume mount point, which cannot be renamed over) the staging folder lives
  // inside it and entries are moved in; a cache folder is staged beside itself and renamed whole.
  await mkdir(explicit ? target : path.dirname(target), { recursive: true });
  if (explicit) await removeStaleStaging(target);
  const staging = await mkdtemp(explicit ? path.join(target, STAGING_PREFIX) : `${target}${STAGING_PREFIX}`);
  try {
    const content = path.join(staging, 'content');
    await mkdir(content);
    await withDeadline(download(uri, backend, staging, content, options), deadlineMs(env), backend, uri);
    const files = await listFiles(content);
    if (explicit) {
      await commitInto(target, content);
      await writeMarker(target, uri, files);
    } else {
      await writeMarker(content, uri, files);
      await rm(target, { recursive: true, force: true }); // an incomplete earlier copy
      try {
        await rename(content, target);
      } catch (err) {
        // Another process with the same URI finished first: its copy is as good as ours.
        if (!(await isComplete(target, uri))) throw err;
      }
    }
    return target;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`${uri}: ${backend.explain(err)}`, uri, { cause: err });
  } finally {
    await rm(staging, { recursive: true, force: true });
    backend.close?.();
  }
}

/**
 * The whole fetch must end within STORAGE_INIT_DEADLINE_SECONDS (default 1800): an init container that never exits
 * keeps its pod in Init forever, whatever the per-request timeouts and retries add up to.
 */
function deadlineMs(env: NodeJS.ProcessEnv): number {
  return (Number(env.STORAGE_INIT_DEADLINE_SECONDS) || 1800) * 1000;
}

async function withDeadline(work: Promise<void>, ms: number, backend: Backend, uri: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      backend.close?.(); // ends the sockets still waiting, so nothing keeps writing into the staging folder
      reject(new StorageError(`${uri}: gave up after ${ms / 1000} s (STORAGE_INIT_DEADLINE_SECONDS): ${backend.describe?.() ?? 'the storage'} did not deliver the model in time`, uri));
    }, ms);
  });
  work.catch(() => undefined); // after the deadline its own failure is no longer news
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Two keys where one is a folder of the other (m/a and m/a/b) cannot both land on a file system. */
function checkConflicts(objects: readonly RemoteObject[]): void {
  const files = new Set(objects.map((o) => o.rel));
  for (const o of objects) {
    for (let i = o.rel.indexOf('/'); i > 0; i = o.rel.indexOf('/', i + 1)) {
      const dir = o.rel.slice(0, i);
      if (files.has(dir)) {
        const other = objects.find((x) => x.rel === dir)!;
        throw new PermanentError(`keys "${other.key}" and "${o.key}" conflict: "${dir}" would have to be both a file and a folder`);
      }
    }
  }
}

async function download(uri: string, backend: Backend, staging: string, content: string, options: RemoteOptions): Promise<void> {
  const { env, log } = options;
  const listing = await withRetry(() => backend.list(), { log, what: `listing ${uri}` });
  const { objects } = listing;
  checkConflicts(objects);
  const total = objects.reduce((a, o) => a + (o.size ?? 0), 0);
  log?.(`fetching ${uri}: ${objects.length} object${objects.length === 1 ? '' : 's'}${total ? `, ${mib(total)}` : ''}`);
  const progress = new Progress(total, objects.length, log);
  // KServe unpacks when exactly one object is downloaded and its name says archive; so do we.
  const kind = objects.length === 1 ? archiveKind(objects[0].rel) : undefined;
  const into = kind ? path.join(staging, 'archive') : content;
  const concurrency = positiveInt(env.STORAGE_INIT_CONCURRENCY ?? env.S3_MAX_FILE_CONCURRENCY, 4);
  const idleMs = idleTimeoutMs(options.env);
  await mapLimit(objects, concurrency, (obj) => downloadOne(backend, obj, path.join(into, obj.rel), progress, idleMs, log));
  log?.(`fetched ${uri}: ${progress.summary()}`);
  if (kind) {
    log?.(`unpacking ${objects[0].rel}`);
    await unpack(path.join(into, objects[0].rel), kind, content);
  }
}

/**
 * Seconds without a byte before a download is abandoned (and retried): a connection that dies without a reset, or a
 * client library that never reports a cut-off body, must not hang a pod's start.
 */
function idleTimeoutMs(env: NodeJS.ProcessEnv): number {
  return (Number(env.STORAGE_INIT_IDLE_TIMEOUT_SECONDS) || 60) * 1000;
}

async function downloadOne(
  backend: Backend,
  obj: RemoteObject,
  file: string,
  progress: Progress,
  idleMs: number,
  log?: (m: string) => void,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  let lastWritten = 0;
  await withRetry(
    async () => {
      let written = 0;
      try {
        const { body, size } = await backend.open(obj);
        const expected = obj.size ?? size;
        if (obj.size === undefined && size !== undefined) progress.grow(size);
        const stalled = () => body.destroy(Object.assign(new Error(`${obj.key}: no data for ${idleMs / 1000} s`), { code: 'ETIMEDOUT' }));
        let watchdog = setTimeout(stalled, idleMs);
        try {
          await pipeline(
            body,
            async function* (source: AsyncIterable<Buffer>) {
              for await (const chunk of source) {
                clearTimeout(watchdog);
                watchdog = setTimeout(stalled, idleMs);
                written += chunk.length;
                progress.add(chunk.length);
                yield chunk;
              }
            },
            createWriteStream(file),
          );
        } finally {
          clearTimeout(watchdog);
        }
        // A connection cut short can still end "cleanly"; the size is what tells a whole file.
        if (expected !== undefined && written !== expected) {
          throw Object.assign(new Error(`${obj.key}: received ${written} bytes, expected ${expected}`), { code: 'SIZE_MISMATCH' });
        }
      } catch (err) {
        progress.remove(written);
        lastWritten = written;
        throw err;
      }
    },
    { log, what: `download of ${obj.key}` },
  ).catch((err: unknown) => {
    // Said as what happened, not as an unreachable endpoint: the object arrived short on every try.
    const expected = obj.size;
    const code = (err as { code?: string })?.code;
    if (code === 'SIZE_MISMATCH' || (expected !== undefined && lastWritten > 0 && lastWritten < expected)) {
      throw new PermanentError(
        `object "${obj.key}" was cut short on every try: received ${lastWritten} of the ${expected ?? '?'} bytes listed${code && code !== 'SIZE_MISMATCH' ? ` (${code})` : ''}`,
        { cause: err },
      );
    }
    throw err;
  });
}

/** Moves each top-level entry of `content` into `dest`, replacing same-named ones and the previous model's files. */
async function commitInto(dest: string, content: string): Promise<void> {
  const previous = await readMarker(dest);
  // The marker goes first, so a crash mid-move never leaves a "complete" claim over a mixed folder.
  await rm(path.join(dest, MARKER), { force: true });
  for (const f of previous?.files ?? []) await rm(path.join(dest, f.path), { force: true });
  for (const name of await readdir(content)) {
    await rm(path.join(dest, name), { recursive: true, force: true });
    await rename(path.join(content, name), path.join(dest, name));
  }
}

async function removeStaleStaging(dest: string): Promise<void> {
  for (const name of await readdir(dest)) {
    if (name.startsWith(STAGING_PREFIX)) await rm(path.join(dest, name), { recursive: true, force: true });
  }
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
