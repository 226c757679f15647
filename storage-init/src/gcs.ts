import { access, constants } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { GoogleAuth, PassThroughClient } from 'google-auth-library';
import { safeRelative } from './paths.js';
import { isGcsType, rcloneRemote, truthy } from './rclone.js';
import type { Backend, Listing, RemoteObject } from './remote.js';
import { PermanentError } from './retry.js';

export interface GcsSettings {
  /** STORAGE_EMULATOR_HOST or an rclone endpoint: the library then sends no credentials, as for an emulator. */
  apiEndpoint?: string;
  keyFilename?: string;
  credentials?: Record<string, unknown>;
  /** Variable the credentials came from, for error messages. */
  credentialSource?: string;
  /** 'auto': application default credentials when there are any, else anonymous (as KServe does). */
  mode: 'anonymous' | 'credentials' | 'emulator' | 'auto';
  remote?: string;
}

export function gcsSettings(scheme: string, env: NodeJS.ProcessEnv): GcsSettings {
  const rc = rcloneRemote(scheme, env);
  const r = rc && isGcsType(rc.type) ? rc : undefined;
  const apiEndpoint = r?.options.endpoint || env.STORAGE_EMULATOR_HOST || undefined;
  const base = { apiEndpoint: apiEndpoint && (/^https?:\/\//.test(apiEndpoint) ? apiEndpoint : `http://${apiEndpoint}`), remote: r?.name };
  if (r?.options.service_account_credentials) {
    let credentials: Record<string, unknown>;
    try {
      credentials = JSON.parse(r.options.service_account_credentials) as Record<string, unknown>;
    } catch {
      throw new PermanentError(`${r.variable('service_account_credentials')} is not valid JSON`);
    }
    return { ...base, credentials, credentialSource: r.variable('service_account_credentials'), mode: 'credentials' };
  }
  if (r?.options.service_account_file) return { ...base, keyFilename: r.options.service_account_file, credentialSource: r.variable('service_account_file'), mode: 'credentials' };
  // Seldon's rclone image sets RCLONE_CONFIG_GS_ANONYMOUS=true by default; honour it before ambient credentials.
  if (r && truthy(r.options.anonymous) === true) return { ...base, mode: 'anonymous' };
  if (env.GOOGLE_APPLICATION_CREDENTIALS) return { ...base, keyFilename: env.GOOGLE_APPLICATION_CREDENTIALS, credentialSource: 'GOOGLE_APPLICATION_CREDENTIALS', mode: 'credentials' };
  if (base.apiEndpoint) return { ...base, mode: 'emulator' };
  return { ...base, mode: 'auto' };
}

async function storageFor(s: GcsSettings, log?: (m: string) => void): Promise<{ storage: Storage; anonymous: boolean }> {
  const common: StorageOptions = { retryOptions: { autoRetry: true, maxRetries: 3 } };
  if (s.apiEndpoint) common.apiEndpoint = s.apiEndpoint;
  const anonymous = () => ({
    // A client that adds no Authorization header: public buckets only.
    storage: new Storage({ ...common, authClient: new PassThroughClient(), useAuthWithCustomEndpoint: true }),
    anonymous: true,
  });
  switch (s.mode) {
    case 'anonymous':
      return anonymous();
    case 'emulator':
      return { storage: new Storage(common), anonymous: false };
    case 'credentials':
      if (s.keyFilename) {
        try {
          await access(s.keyFilename, constants.R_OK);
        } catch {
          throw new PermanentError(`credentials file ${s.keyFilename} from ${s.credentialSource} cannot be read`);
        }
      }
      // With a custom endpoint, still sign: the credentials were given on purpose.
      return { storage: new Storage({ ...common, keyFilename: s.keyFilename, credentials: s.credentials, useAuthWithCustomEndpoint: true }), anonymous: false };
    case 'auto': {
      try {
        const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] });
        await auth.getClient();
        return { storage: new Storage({ ...common, authClient: auth }), anonymous: false };
      } catch {
        log?.('no Google application default credentials; reading anonymously (public buckets only)');
        return anonymous();
      }
    }
  }
}

export class GcsBackend implements Backend {
  private storage?: Storage;
  private anonymous = false;

  constructor(
    private readonly bucket: string,
    private readonly key: string,
    private readonly settings: GcsSettings,
    private readonly log?: (m: string) => void,
  ) {}

  private async client(): Promise<Storage> {
    if (!this.storage) ({ storage: this.storage, anonymous: this.anonymous } = await storageFor(this.settings, this.log));
    return this.storage;
  }

  async list(): Promise<Listing> {
    const bucket = (await this.client()).bucket(this.bucket);
    const key = this.key;
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    let files;
    try {
      [files] = await bucket.getFiles({ prefix: prefix || undefined, autoPaginate: true });
    } catch (err) {
      if (code(err) === 404) throw new PermanentError(`bucket "${this.bucket}" does not exist${this.where()}`);
      throw err;
    }
    const objects: RemoteObject[] = [];
    for (const f of files) {
      if (f.name.endsWith('/')) continue; // folder placeholders
      const rel = safeRelative(f.name.slice(prefix.length));
      if (rel === undefined) throw new PermanentError(`object "${f.name}" in bucket "${this.bucket}" would land outside the destination; refused`);
      objects.push({ key: f.name, rel, size: Number(f.metadata.size) });
    }
    if (objects.length) return { objects, single: false };
    if (prefix === key) throw new PermanentError(`nothing under "${key}" in bucket "${this.bucket}"${this.where()}`);
    try {
      const [meta] = await bucket.file(key).getMetadata();
      const rel = safeRelative(key.slice(key.lastIndexOf('/') + 1));
      if (rel === undefined) throw new PermanentError(`object "${key}" cannot be a file name`);
      return { objects: [{ key, rel, size: Number(meta.size) }], single: true };
    } catch (err) {
      if (code(err) === 404) throw new PermanentError(`no object "${key}" and nothing under "${prefix}" in bucket "${this.bucket}"${this.where()}`);
      throw err;
    }
  }

  async open(obj: RemoteObject): Promise<{ body: Readable; size?: number }> {
    const file = (await this.client()).bucket(this.bucket).file(obj.key);
    // The library checks CRC32C when the server sends hashes (real GCS does); the caller checks sizes.
    return { body: file.createReadStream() };
  }

  explain(err: unknown): string {
    if (err instanceof PermanentError) return err.message;
    const c = code(err);
    const msg = (err as Error)?.message ?? String(err);
    const setCreds = this.settings.remote
      ? `RCLONE_CONFIG_${this.settings.remote}_SERVICE_ACCOUNT_FILE or GOOGLE_APPLICATION_CREDENTIALS`
      : 'GOOGLE_APPLICATION_CREDENTIALS';
    if (c === 401 || c === 403) {
      return this.anonymous
        ? `access denied to an anonymous request for bucket "${this.bucket}"${this.where()}: set ${setCreds} (${msg})`
        : `access denied for bucket "${this.bucket}" to the credentials from ${this.settings.credentialSource ?? 'the application default'}${this.where()} (${msg})`;
    }
    if (c === 404) return `not found in bucket "${this.bucket}"${this.where()}: ${msg}`;
    return `${msg}${c ? ` (HTTP ${c})` : ''} (bucket "${this.bucket}"${this.where()})`;
  }

  private where(): string {
    return this.settings.apiEndpoint ? ` at ${this.settings.apiEndpoint}` : '';
  }
}

function code(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}
