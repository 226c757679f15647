import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Fault, RecordedRequest } from './faults.js';

/**
 * A stand-in for Google Cloud Storage: no GCS emulator installs offline here (firebase-tools' one downloads a
 * jar and needs Java), so this implements the part of the GCS JSON API that @google-cloud/storage uses to
 * download: object list (prefix, pageToken, maxResults), object metadata and media (`alt=media`), under
 * `/storage/v1` and at the root (how the library addresses STORAGE_EMULATOR_HOST). Errors use the GCS JSON
 * error shape. It also records requests and can fail chosen requests, which a real service does now and then.
 */
export interface FakeGcs {
  /** Value for STORAGE_EMULATOR_HOST. */
  host: string;
  requests: RecordedRequest[];
  faults: Fault[];
  put(bucket: string, name: string, body: Buffer | string): void;
  createBucket(bucket: string): void;
  close(): Promise<void>;
}

export interface FakeGcsOptions {
  /** Largest list page; small values make the client follow nextPageToken. */
  pageSize?: number;
  /** When set, requests must carry `Authorization: Bearer <token>` (as a private bucket would). */
  bearer?: string;
}

export async function startFakeGcs(options: FakeGcsOptions = {}): Promise<FakeGcs> {
  const buckets = new Map<string, Map<string, { body: Buffer; updated: string; generation: number }>>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const pageSize = options.pageSize ?? 1000;
  let generation = 1;

  const sendError = (res: http.ServerResponse, code: number, message: string, reason: string) => {
    res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } }));
  };
  const resource = (bucket: string, name: string, o: { body: Buffer; updated: string; generation: number }) => ({
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    name,
    bucket,
    generation: String(o.generation),
    contentType: 'application/octet-stream',
    size: String(o.body.length),
    updated: o.updated,
    timeCreated: o.updated,
  });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization };
    requests.push(rec);
    const fault = faults.find((f) => f.times > 0 && f.match(rec));
    if (fault) {
      fault.times--;
      rec.failed = fault.kind;
      if (fault.kind === 503) return sendError(res, 503, 'Service Unavailable (injected)', 'backendError');
    }
    if (options.bearer && req.headers.authorization !== `Bearer ${options.bearer}`) {
      return sendError(res, 401, 'Anonymous caller does not have storage.objects.list access.', 'required');
    }
    const m = /^(?:\/download)?(?:\/storage\/v1)?\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return sendError(res, 404, `Not Found: ${req.method} ${url.pathname}`, 'notFound');
    const bucketName = decodeURIComponent(m[1]);
    const bucket = buckets.get(bucketName);
    if (!bucket) return sendError(res, 404, 'The specified bucket does not exist.', 'notFound');
    if (m[2] === undefined) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const max = Math.min(pageSize, Number(url.searchParams.get('maxResults')) || pageSize);
      const names = [...bucket.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(url.searchParams.get('pageToken') ?? 0);
      const page = names.slice(start, start + max);
      const body: Record<string, unknown> = { kind: 'storage#objects', items: page.map((n) => resource(bucketName, n, bucket.get(n)!)) };
      if (start + max < names.length) body.nextPageToken = String(start + max);
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      return res.end(JSON.stringify(body));
    }
    const name = decodeURIComponent(m[2]);
    const obj = bucket.get(name);
    if (!obj) return sendError(res, 404, `No such object: ${bucketName}/${name}`, 'notFound');
    if (url.searchParams.get('alt') !== 'media') {
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      return res.end(JSON.stringify(resource(bucketName, name, obj)));
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': obj.body.length, 'x-goog-generation': String(obj.generation) });
    if (fault?.kind === 'truncate') {
      // Half the body, then the connection drops: what a reset mid-transfer looks like to the client.
      res.write(obj.body.subarray(0, obj.body.length >> 1), () => res.destroy());
      return;
    }
    res.end(obj.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `http://127.0.0.1:${port}`,
    requests,
    faults,
    createBucket: (b) => void (buckets.has(b) || buckets.set(b, new Map())),
    put(b, name, body) {
      if (!buckets.has(b)) buckets.set(b, new Map());
      buckets.get(b)!.set(name, { body: Buffer.from(body), updated: new Date().toISOString(), generation: generation++ });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
