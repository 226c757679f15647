/**
 * node bench/dist/rest-cpu.js [N] [--repeat R] [--cli path/to/cli.js ...]: server CPU time per REST request (utime +
 * stime of the server process over N h2load --h1 requests, 4 connections), the bare Node server against
 * SKLEARN_SERVER's native engine: Seldon iris 1 row and 1000 rows (N / 10 of those). CPU per request, unlike req/s,
 * holds up on a loaded machine, so it is the figure to compare changes to the REST data path with: give several
 * --cli (builds of the same CLI, e.g. main's and a branch's) and R rounds; runs alternate, and the lowest of each
 * is reported (load only ever adds CPU time).
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { firstOk, startProcess } from './processes.js';
import { CLI, ROOT, trainModels } from './models.js';

const argv = process.argv.slice(2);
const N = Number(argv[0] && !argv[0].startsWith('--') ? argv[0] : 20000);
const REPEAT = argv.includes('--repeat') ? Number(argv[argv.indexOf('--repeat') + 1]) : 1;
const clis = argv.flatMap((a, i) => (a === '--cli' ? [path.resolve(argv[i + 1])] : []));
const irisRow = [5.1, 3.5, 1.4, 0.2];
const rows = (n: number) => Array.from({ length: n }, (_, i) => irisRow.map((v, j) => v + ((i * 7 + j) % 10) / 10));
const bodies: Record<string, string> = {
  '1 row': JSON.stringify({ data: { ndarray: [irisRow] } }),
  '1000 rows': JSON.stringify({ data: { ndarray: rows(1000) } }),
};

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

async function measure(args: string[], url: string, work: string, n: number): Promise<Record<string, number>> {
  const proc = await startProcess(args, { MODELFLEET_CACHE_DIR: path.join(work, 'cache') });
  const out: Record<string, number> = {};
  try {
    await firstOk(proc, url, bodies['1 row']); // the model is loaded
    for (const [name, text] of Object.entries(bodies)) {
      const file = path.join(work, 'body.json');
      writeFileSync(file, text);
      const count = name === '1 row' ? n : Math.ceil(n / 10);
      const load = (k: number) =>
        promisify(execFile)('h2load', ['--h1', '-c', '4', '-t', '1', '-n', String(k), '-d', file, '-H', 'content-type: application/json', `${proc.url}${url}`]);
      await load(Math.ceil(count / 4)); // warm-up (JIT, model load)
      const before = cpuMs(proc.child.pid!);
      const { stdout } = await load(count);
      if (!/ 0 failed, 0 errored/.test(stdout) || !new RegExp(`status codes: ${count} 2xx`).test(stdout)) throw new Error(`h2load: ${stdout}`);
      out[name] = ((cpuMs(proc.child.pid!) - before) * 1000) / count;
    }
  } finally {
    await proc.stop();
  }
  return out;
}

const models = await trainModels();
const work = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-rest-cpu-'));
const servers: Array<[string, string[], string]> = [['bare node', [path.join(ROOT, 'bench/dist/bare-server.js')], '/']];
for (const cli of clis.length ? clis : [CLI]) {
  const name = clis.length ? path.relative(ROOT, cli) : 'modelfleet';
  servers.push([name, [cli, 'serve', 'SKLEARN_SERVER', '--model-uri', models.iris, '--model-name', 'iris', '--param', 'engine=native'], '/api/v1.0/predictions']);
}
const best = new Map<string, Record<string, number>>();
for (let round = 0; round < REPEAT; round++) {
  for (const [name, args, url] of servers) {
    const r = await measure(args, url, work, N);
    process.stderr.write(`round ${round + 1} ${name}: ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)} us`).join(', ')} (${os.loadavg()[0].toFixed(1)} load)\n`);
    const b = best.get(name) ?? {};
    for (const [k, v] of Object.entries(r)) b[k] = Math.min(b[k] ?? Infinity, v);
    best.set(name, b);
  }
}
const bare = best.get('bare node')!;
for (const [name, r] of best) {
  if (name === 'bare node') continue;
  for (const k of Object.keys(bodies)) {
    process.stdout.write(`Seldon REST ${k.padEnd(9)} ${name}: ${r[k].toFixed(1)} us/req, bare node ${bare[k].toFixed(1)} us/req: ${(bare[k] / r[k]).toFixed(2)}x\n`);
  }
}
