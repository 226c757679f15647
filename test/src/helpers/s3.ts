import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** s3rver's built-in account: it knows only this access key ID (it checks the key ID, not V4 signatures). */
export const S3RVER_KEY = 'S3RVER';
export const S3RVER_SECRET = 'S3RVER';

export interface S3Fixture {
  endpoint: string;
  client: S3Client;
  put(bucket: string, key: string, body: Buffer | string): Promise<void>;
  close(): Promise<void>;
}

/** A real S3-compatible server (s3rver, from npm) on loopback in a child process, data in a temporary folder. */
export async function startS3(buckets: string[]): Promise<S3Fixture> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'mf-s3rver-'));
  const main = new URL('./s3rver-main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', main, directory, ...buckets], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout }), 'line'), once(child, 'exit').then(() => [''])])) as string[];
  if (!line) throw new Error('s3rver did not start');
  const { port } = JSON.parse(line) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_SECRET },
  });
  return {
    endpoint,
    client,
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async close() {
      client.destroy();
      const exited = once(child, 'exit');
      child.stdin.end();
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

