import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  body?: Buffer | string;
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Drives load with wrk (C, cheap per request, so the server gets the cores) and parses its latency report. */
export async function wrk(spec: LoadSpec, workDir: string): Promise<LoadResult> {
  const bodyFile = path.join(workDir, `body-${process.hrtime.bigint()}.bin`);
  const script = path.join(workDir, `script-${process.hrtime.bigint()}.lua`);
  if (spec.body !== undefined) writeFileSync(bodyFile, spec.body);
  const headers = Object.entries(spec.headers ?? {})
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  // Non-2xx answers are counted as errors so a broken server cannot post a fast figure.
  writeFileSync(
    script,
    `wrk.method = "${spec.method ?? 'POST'}"
${spec.body !== undefined ? `local f = io.open("${bodyFile}", "rb"); wrk.body = f:read("*a"); f:close()` : ''}
${headers}
`,
  );
  const { stdout } = await promisify(execFile)(
    'wrk',
    [`-t${Math.min(2, spec.connections)}`, `-c${spec.connections}`, `-d${spec.seconds}s`, '--latency', '-s', script, spec.url],
    { maxBuffer: 1 << 20 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p50 = ms(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '');
  const p99 = ms(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50, p99, errors };
}
