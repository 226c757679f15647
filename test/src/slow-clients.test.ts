// Issue 16 item 11: slow-header and slow-body clients are cut off (MODELFLEET_HEADERS_TIMEOUT_SECONDS,
// MODELFLEET_REQUEST_TIMEOUT_SECONDS) instead of holding the server's memory for Node's defaults (60 s / 5 min).
// Also measures the server's memory per idle connection (reported in the test log; bound asserted generously).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { IRIS_ROWS, sklearnModels } from './helpers/models.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a connection, sends `first`, then trickles one byte a second; resolves with what the server said and when. */
function trickle(url: string, first: string): Promise<{ ms: number; reply: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(first));
    let reply = '';
    const timer = setInterval(() => sock.writable && sock.write('a'), 1000);
    sock.on('data', (d) => (reply += d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - started, reply });
    });
  });
}

describe('slow clients', () => {
  let server: ServerProcess;
  before(async () => {
    const models = await sklearnModels();
    server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris'], {
      MODELFLEET_HEADERS_TIMEOUT_SECONDS: '2',
      MODELFLEET_REQUEST_TIMEOUT_SECONDS: '4',
    });
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('headers that never finish are cut off with 408 after MODELFLEET_HEADERS_TIMEOUT_SECONDS', async () => {
    const r = await trickle(server.url, 'POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    assert.match(r.reply, /^HTTP\/1\.1 408/);
    assert.ok(r.ms >= 1500 && r.ms < 30_000, `closed after ${r.ms} ms`); // Node's default would be 60 s
  });

  test('a body that never finishes is cut off after MODELFLEET_REQUEST_TIMEOUT_SECONDS', async () => {
    const r = await trickle(server.url, 'POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"data":');
    assert.ok(r.ms >= 3000 && r.ms < 40_000, `closed after ${r.ms} ms`); // Node's default would be 5 min
    const ok = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: [IRIS_ROWS[0]] } });
    assert.equal(ok.status, 200);
  });

  test('memory per idle connection (reported), and idle connections do not outlive the header timeout', async (t) => {
    const pid = server.proc.pid!;
    await sleep(500);
    const before = rssKiB(pid);
    const n = 1000;
    const u = new URL(server.url);
    const socks = await Promise.all(
      Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect(Number(u.port), u.hostname, () => {
          s.write('GET /health/ping HTTP/1.1\r\nHost: x\r\n'); // headers begun, never finished
          resolve(s);
        });
        s.on('error', () => undefined);
        s.resume(); // read the 408 and the server's FIN, so the socket closes
      })),
    );
    await sleep(500);
    const held = rssKiB(pid);
    const perConn = ((held - before) * 1024) / n;
    t.diagnostic(`RSS ${Math.round(before / 1024)} MiB idle, ${Math.round(held / 1024)} MiB with ${n} slow connections: ~${(perConn / 1024).toFixed(1)} KiB per connection`);
    for (let i = 0; i < 300 && socks.some((s) => !s.closed); i++) await sleep(100);
    const open = socks.filter((s) => !s.closed).length;
    for (const s of socks) s.destroy();
    assert.equal(open, 0, `${open} of ${n} slow connections still open after 30 s`);
    assert.ok(perConn < 256 * 1024, `${perConn} bytes per connection`);
  });
});
