/**
 * Seldon's storage initializer is rclone, configured by a secret (envSecretRefName) holding variables
 * RCLONE_CONFIG_<REMOTE>_<KEY>; the URI's scheme names the remote (s3://bucket/path uses remote S3, a custom
 * minio://bucket/path uses remote MINIO). Reading the same variables lets those secrets keep working unchanged.
 */
export interface RcloneRemote {
  name: string;
  /** rclone backend type: "s3", "google cloud storage" (or "gcs"), ... */
  type?: string;
  /** Option values by lower-case key (access_key_id, endpoint, anonymous, ...). */
  options: Record<string, string>;
  /** The variable an option came from, for error messages. */
  variable(key: string): string;
}

export function rcloneRemote(scheme: string, env: NodeJS.ProcessEnv): RcloneRemote | undefined {
  const name = scheme.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const prefix = `RCLONE_CONFIG_${name}_`;
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.toUpperCase().startsWith(prefix) && v !== undefined) options[k.slice(prefix.length).toLowerCase()] = v;
  }
  if (!Object.keys(options).length) return undefined;
  return { name, type: options.type?.toLowerCase(), options, variable: (key) => `${prefix}${key.toUpperCase()}` };
}

export function isGcsType(type: string | undefined): boolean {
  return type === 'google cloud storage' || type === 'gcs';
}

/** rclone, boto and KServe all spell booleans in several ways. */
export function truthy(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return /^(1|true|yes|on)$/i.test(value.trim());
}
