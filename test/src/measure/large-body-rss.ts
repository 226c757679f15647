// Test-only measurement (not a test; run by hand): RSS of a SKLEARN_SERVER process while it answers large Seldon
// JSON bodies, and 20 s after. `node test/dist/measure/large-body-rss.js [rows] [concurrent]` (default 2.4 M rows,
// about 95 MB, one at a time). Prints idle, peak and after figures in MiB.
import { readFileSync } from 'node:fs';
import { sklearnModels } from '../helpers/models.js';
import { serveCli, waitReady } from '../helpers/server.js';

const rows = Number(process.argv[2] ?? 2_400_000);
const concurrent = Number(process.argv[3] ?? 1);
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const models = await sklearnModels();
const server = await serveCli(['SKLEARN_SERVER', '--model-uri', models.paths.iris, '--model-name', 'iris', '--param', 'engine=native', ...(process.env.METHOD ? ['--method', process.env.METHOD] : [])], { MODELFLEET_MAX_INFLIGHT_BYTES: '4gb', ...(process.env.INLINE ? { MODELFLEET_INLINE_BUDGET_US: '1000000000000' } : {}) });
await waitReady(server);
const pid = server.proc.pid!;
const row = '[5.1,3.5,1.4,0.2],[6.2,3.4,5.4,2.3],';
const list = `[${row.repeat(rows / 2).slice(0, -1)}]`;
// PROTOCOL=v2 (V2 JSON, FP64, predict_proba asked for) or v1 (KServe V1 instances); Seldon ndarray otherwise.
const protocol = process.env.PROTOCOL ?? 'seldon';
const body = Buffer.from(
  protocol === 'v2'
    ? `{"inputs":[{"name":"input-0","shape":[${rows},4],"datatype":"FP64","data":${list}}],"outputs":[{"name":"${process.env.METHOD ?? 'predict_proba'}"}]}`
    : protocol === 'v1'
      ? `{"instances":${list}}`
      : `{"data":{"ndarray":${list}}}`,
);
const path = protocol === 'v2' ? '/v2/models/iris/infer' : protocol === 'v1' ? '/v1/models/iris:predict' : '/api/v1.0/predictions';
await sleep(2000);
const idle = rss(pid);
let peak = idle;
const poll = setInterval(() => (peak = Math.max(peak, rss(pid))), 20);
const started = Date.now();
const results = await Promise.all(
  Array.from({ length: concurrent }, async () => {
    const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await r.text();
    return `${r.status} ${text.length} bytes`;
  }),
);
const took = Date.now() - started;
clearInterval(poll);
await sleep(20_000);
const after = rss(pid);
console.log(
  JSON.stringify({ protocol, rows, bodyMiB: +(body.length / 2 ** 20).toFixed(1), concurrent, results, seconds: took / 1000, idleMiB: Math.round(idle), peakMiB: Math.round(peak), extraPeakMiB: Math.round(peak - idle), after20sMiB: Math.round(after) }),
);
await server.stop();
