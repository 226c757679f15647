import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { safeRelative } from './paths.js';
import { rcloneRemote, truthy } from './rclone.js';
import type { Backend, Listing, RemoteObject } from './remote.js';
import { PermanentError } from './retry.js';

/** Where each S3 setting came from is kept, so errors can name the variable to fix. */
export interface S3Settings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  keySource?: string;
  secretSource?: string;
  tokenSource?: string;
  /** Unsigned requests (public buckets). */
  anonymous: boolean;
  verifySsl: boolean;
  caBundle?: string;
  maxAttempts: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Name of the rclone remote whose variables applied, if any. */
  remote?: string;
}

type Found = [value: string, source: string] | undefined;

function first(...candidates: [string | undefined, string][]): Found {
  for (const [v, s] of candidates) if (v !== undefined && v !== '') return [v, s];
  return undefined;
}

/** KServe's unified storage-config secret: STORAGE_CONFIG holds JSON with type "s3". */
function storageConfig(env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (!env.STORAGE_CONFIG) return {};
  try {
    const c = JSON.parse(env.STORAGE_CONFIG) as Record<string, unknown>;
    return c && c.type === 's3' ? c : {};
  } catch {
    throw new PermanentError('STORAGE_CONFIG is not valid JSON');
  }
}

/** Resolves endpoint, region, credentials and TLS from rclone variables, STORAGE_CONFIG and the AWS/KServe ones. */
export function s3Settings(scheme: string, env: NodeJS.ProcessEnv): S3Settings {
  const rc = rcloneRemote(scheme, env);
  const r = rc?.type === 's3' ? rc : undefined;
  const ro = (k: string): [string | undefined, string] => [r?.options[k], r ? r.variable(k) : ''];
  const sc = storageConfig(env);
  const so = (k: string): [string | undefined, string] => [sc[k] === undefined ? undefined : String(sc[k]), `STORAGE_CONFIG.${k}`];
  const ev = (k: string): [string | undefined, string] => [env[k], k];

  const useHttps = truthy(env.S3_USE_HTTPS);
  let endpoint = first(ro('endpoint'), so('endpoint_url'), ev('AWS_ENDPOINT_URL_S3'), ev('AWS_ENDPOINT_URL'), ev('S3_ENDPOINT'))?.[0];
  // S3_ENDPOINT is a bare host:port in KServe secrets; S3_USE_HTTPS picks the scheme (https unless "0").
  if (endpoint && !/^https?:\/\//i.test(endpoint)) endpoint = `${useHttps === false ? 'http' : 'https'}://${endpoint}`;
  const region = first(ro('region'), so('region'), ev('AWS_REGION'), ev('AWS_DEFAULT_REGION'))?.[0] ?? 'us-east-1';

  const key = first(ro('access_key_id'), so('access_key_id'), ev('AWS_ACCESS_KEY_ID'), ev('awsAccessKeyID'));
  const secret = first(ro('secret_access_key'), so('secret_access_key'), ev('AWS_SECRET_ACCESS_KEY'), ev('awsSecretAccessKey'));
  const token = first(ro('session_token'), ev('AWS_SESSION_TOKEN'));
  if (key && !secret) throw new PermanentError(`${key[1]} is set but no secret access key is (set ${secretNameFor(key[1])})`);
  if (secret && !key) throw new PermanentError(`${secret[1]} is set but no access key ID is (set ${keyNameFor(secret[1])})`);

  // rclone: a remote without keys and without env_auth=true reads anonymously.
  const rcloneAnonymous = r !== undefined && !r.options.access_key_id && truthy(r.options.env_auth) !== true;
  const anonymous =
    !key &&
    (truthy(env.awsAnonymousCredential) === true ||
      truthy(env.AWS_NO_SIGN_REQUEST) === true ||
      truthy(so('anonymous')[0]) === true ||
      rcloneAnonymous);

  const verifySsl = !(truthy(env.S3_VERIFY_SSL) === false || truthy(so('verify_ssl')[0]) === false || truthy(env.RCLONE_NO_CHECK_CERTIFICATE) === true);
  const pathStyle = first(ro('force_path_style'), ev('S3_FORCE_PATH_STYLE'));
  // MinIO-like servers want path-style; AWS itself wants virtual-hosted buckets (S3_USER_VIRTUAL_BUCKET asks for them).
  const forcePathStyle = truthy(env.S3_USER_VIRTUAL_BUCKET) === true ? false : pathStyle ? truthy(pathStyle[0]) === true : endpoint !== undefined;

  return {
    endpoint,
    region,
    forcePathStyle,
    credentials: key && secret ? { accessKeyId: key[0], secretAccessKey: secret[0], sessionToken: token?.[0] } : undefined,
    keySource: key?.[1],
    secretSource: secret?.[1],
    tokenSource: token?.[1],
    anonymous,
    verifySsl,
    caBundle: first(ev('AWS_CA_BUNDLE'), so('ca_bundle'))?.[0],
    maxAttempts: posInt(env.S3_MAX_ATTEMPTS, 4),
    connectTimeoutMs: posInt(env.S3_CONNECT_TIMEOUT, 15) * 1000,
    readTimeoutMs: posInt(env.S3_READ_TIMEOUT, 60) * 1000,
    remote: r?.name,
  };
}

function keyNameFor(secretVar: string): string {
  return secretVar.replace(/SECRET_ACCESS_KEY$/, 'ACCESS_KEY_ID').replace('awsSecretAccessKey', 'awsAccessKeyID').replace('STORAGE_CONFIG.secret_access_key', 'STORAGE_CONFIG.access_key_id');
}
function secretNameFor(keyVar: string): string {
  return keyVar.replace(/ACCESS_KEY_ID$/, 'SECRET_ACCESS_KEY').replace('awsAccessKeyID', 'awsSecretAccessKey').replace('STORAGE_CONFIG.access_key_id', 'STORAGE_CONFIG.secret_access_key');
}

function posInt(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export function s3Client(s: S3Settings, sockets: number): S3Client {
  const ca = s.caBundle ? readFileSync(s.caBundle) : undefined;
  const config: S3ClientConfig = {
    region: s.region,
    endpoint: s.endpoint,
    forcePathStyle: s.forcePathStyle,
    maxAttempts: s.maxAttempts,
    // Checksums are only asked for when required: several S3-compatible servers do not know the newer headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: s.connectTimeoutMs,
      // Without throwOnRequestTimeout the SDK only warns: an endpoint that accepts and never answers hung forever.
      requestTimeout: s.readTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: s.readTimeoutMs,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: sockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: sockets, rejectUnauthorized: s.verifySsl, ca }),
    }),
  };
  if (s.credentials) config.credentials = s.credentials;
  if (s.anonymous) {
    // Unsigned requests: empty credentials and a signer that leaves the request as it is.
    config.credentials = { accessKeyId: '', secretAccessKey: '' };
    config.signer = { sign: async (request) => request };
  }
  return new S3Client(config);
}

export class S3Backend implements Backend {
  private client: S3Client;

  constructor(
    private readonly uri: string,
    private readonly bucket: string,
    private readonly key: string,
    private settings: S3Settings,
    private readonly sockets: number,
    private readonly log?: (m: string) => void,
  ) {
    this.client = s3Client(settings, sockets);
  }

  async list(): Promise<Listing> {
    try {
      return await this.listOnce();
    } catch (err) {
      // Nothing configured and no credentials in the default chain (profile, web identity, instance role):
      // a public bucket still reads anonymously, as KServe's GCS path does.
      if ((err as Error)?.name === 'CredentialsProviderError' && !this.settings.credentials && !this.settings.anonymous) {
        this.log?.(`${this.uri}: no AWS credentials found; trying anonymous access`);
        this.client.destroy();
        this.settings = { ...this.settings, anonymous: true };
        this.client = s3Client(this.settings, this.sockets);
        return await this.listOnce();
      }
      throw err;
    }
  }

  private async listOnce(): Promise<Listing> {
    const key = this.key;
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const objects: RemoteObject[] = [];
    let listError: unknown;
    try {
      let token: string | undefined;
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key.endsWith('/')) continue; // folder markers
          const rel = safeRelative(o.Key.slice(prefix.length));
          if (rel === undefined) throw new PermanentError(`object key "${o.Key}" in bucket "${this.bucket}" would land outside the destination; refused`);
          objects.push({ key: o.Key, rel, size: o.Size });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      // Credentials allowed to read but not to list can still fetch a single named object.
      if (prefix === key || !isDenied(err)) throw err;
      listError = err;
    }
    if (objects.length) return { objects, single: false };
    if (prefix === key) throw new PermanentError(`nothing under "${key}" in bucket "${this.bucket}"`);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const rel = safeRelative(key.slice(key.lastIndexOf('/') + 1));
      if (rel === undefined) throw new PermanentError(`object key "${key}" cannot be a file name`);
      return { objects: [{ key, rel, size: head.ContentLength }], single: true };
    } catch (err) {
      if (listError) throw listError;
      if (status(err) === 404) throw new PermanentError(`no object "${key}" and nothing under "${prefix}" in bucket "${this.bucket}"`);
      throw err;
    }
  }

  async open(obj: RemoteObject): Promise<{ body: Readable; size?: number }> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: obj.key }));
    return { body: res.Body as Readable, size: res.ContentLength };
  }

  explain(err: unknown): string {
    const s = this.settings;
    const where = s.endpoint ? `endpoint ${s.endpoint}` : `AWS S3 (region ${s.region})`;
    const e = err as { name?: string; message?: string; code?: string };
    const name = e?.name ?? '';
    const code = status(err);
    const setKeys = s.remote
      ? `RCLONE_CONFIG_${s.remote}_ACCESS_KEY_ID and RCLONE_CONFIG_${s.remote}_SECRET_ACCESS_KEY`
      : 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
    if (err instanceof PermanentError) return err.message;
    if (name === 'NoSuchBucket') return `bucket "${this.bucket}" does not exist at ${where}`;
    if (name === 'NoSuchKey') return `object "${this.key}" not found in bucket "${this.bucket}"`;
    if (name === 'InvalidAccessKeyId') return `${where} does not know the access key ID "${s.credentials?.accessKeyId}" from ${s.keySource} (bucket "${this.bucket}")`;
    if (name === 'SignatureDoesNotMatch') return `${where} rejected the secret access key from ${s.secretSource} for access key ID "${s.credentials?.accessKeyId}" (bucket "${this.bucket}")`;
    if (name === 'ExpiredToken' || name === 'InvalidToken') return `${where} rejected the session token from ${s.tokenSource} (${name}, bucket "${this.bucket}")`;
    if (name === 'CredentialsProviderError') return `no AWS credentials found for bucket "${this.bucket}": set ${setKeys}, or awsAnonymousCredential=true for a public bucket`;
    if (isDenied(err)) {
      return s.anonymous
        ? `access denied to an anonymous request for bucket "${this.bucket}" at ${where}: set ${setKeys}`
        : `access denied to the credentials from ${s.keySource ?? 'the default AWS chain'} for bucket "${this.bucket}" at ${where}`;
    }
    if (name === 'TimeoutError' || (err as { code?: string })?.code === 'ETIMEDOUT') {
      return `${where} accepted the connection but did not answer within ${s.readTimeoutMs / 1000} s (S3_READ_TIMEOUT) for bucket "${this.bucket}"`;
    }
    const net = networkCode(err);
    if (net) return `cannot reach ${where} (${net}) for bucket "${this.bucket}"`;
    return `${name || 'error'}${code ? ` (HTTP ${code})` : ''}: ${e?.message ?? String(err)} (bucket "${this.bucket}", ${where})`;
  }

  describe(): string {
    const s = this.settings;
    return `${s.endpoint ? `endpoint ${s.endpoint}` : `AWS S3 (region ${s.region})`} (bucket "${this.bucket}")`;
  }

  close(): void {
    this.client.destroy();
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isDenied(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'AccessDenied' || name === 'Forbidden' || status(err) === 403 || status(err) === 401;
}

function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  }
  return undefined;
}
