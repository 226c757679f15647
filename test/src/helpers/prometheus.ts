import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Prometheus {
  url: string;
  /** Instant query; throws with Prometheus's own error when the PromQL does not parse or evaluate. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  labelValues(label: string, match: string): Promise<string[]>;
  stop(): Promise<void>;
  logs(): string;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Debian's real `prometheus` (scripts/setup.sh --dev installs it), on a free loopback port with a temporary config
 * and data folder, scraping `targets` (job name -> host:port) on /prometheus every second.
 */
export async function startPrometheus(targets: Record<string, string>): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-prom-'));
  const jobs = Object.entries(targets)
    .map(([job, target]) => `- job_name: ${job}\n  metrics_path: /prometheus\n  static_configs:\n  - targets: ['${target}']\n`)
    .join('');
  writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs}`);
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready in 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async query(promql) {
      const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: any } };
      if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
      const { resultType, result } = body.data!;
      return resultType === 'scalar' ? [{ metric: {}, value: result }] : result;
    },
    async labelValues(label, match) {
      const r = await fetch(`${url}/api/v1/label/${label}/values?${new URLSearchParams({ 'match[]': match })}`);
      const body = (await r.json()) as { status: string; error?: string; data: string[] };
      if (body.status !== 'success') throw new Error(`label ${label}: ${body.error}`);
      return body.data;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
    logs: () => out,
  };
}
