/**
 * `modelfleet test --contract contract.json`: random requests shaped by Seldon's tester contract, every answer
 * checked (well-formed for its protocol, one row per row sent, the contract's targets honoured), then a latency
 * summary and the errors grouped by message. --concurrency and --duration make it a small load generator.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { ModelClient } from '../client.js';
import { ClientError } from '../errors.js';
import { CONNECTION_FLAGS, CONNECTION_USAGE, connection, describeError, intFlag, UsageError } from './args.js';
import { checkTargets, featureNames, generateBatch, parseContract, rng, type Contract } from './contract.js';
import { parseJson, REQUEST_FLAGS, requestShape } from './predict.js';
import { callOnce, type RequestShape } from './request.js';
import { percentile, Progress } from './report.js';

export const TEST_USAGE = `usage: modelfleet test --contract <contract.json> --url <url> [options]
  --contract <file>        Seldon tester contract: features (and optional targets) with name, ftype
                           continuous|categorical, dtype FLOAT|INT, range [lo, hi] ("inf" allowed), values, shape, repeat
  -n <N>                   requests to send (default 1)          --batch-size <B>  rows per request (default 1)
  --concurrency <C>        requests in flight (default 1)        --duration <s>    send for s seconds instead of -n
  --seed <int>             random seed (default: random)         --progress        progress bar even when not a TTY
  --json                   print the summary as JSON
  --payload, --binary, --datatype, --input-name, --outputs   as for modelfleet predict
exit codes: 0 every answer well-formed, 1 some failed (grouped in the summary), 2 bad usage or contract
${CONNECTION_USAGE}`;

export interface Summary {
  requests: number;
  ok: number;
  errors: number;
  durationS: number;
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** message → count, most frequent first. */
  errorCounts: Array<{ message: string; count: number }>;
}

interface Run {
  contract: Contract;
  client: ModelClient;
  protocol: 'seldon' | 'v2' | 'kserve';
  model: string;
  shape: RequestShape;
  batch: number;
  random: () => number;
}

/** One request: the latency, and why the answer is not good (undefined when it is). */
async function one(r: Run): Promise<{ ms: number; error?: string }> {
  const rows = generateBatch(r.contract, r.batch, r.random);
  const start = performance.now();
  try {
    const answer = await callOnce(r.client, r.protocol, r.model, rows, r.shape);
    const ms = performance.now() - start;
    if (!answer.tensor) return { ms, error: `malformed answer: no data (${JSON.stringify(answer.json).slice(0, 120)})` };
    const bad = checkTargets(r.contract.targets, r.batch, answer.tensor.shape, answer.tensor.data as ArrayLike<unknown>);
    return bad ? { ms, error: `malformed answer: ${bad}` } : { ms };
  } catch (e) {
    const ms = performance.now() - start;
    if (e instanceof ClientError) {
      const kind = e.status !== undefined ? `HTTP ${e.status}` : e.grpcCode ? e.grpcCode : 'no answer';
      // The server's own words, without the per-request URL, so equal failures group together.
      const said = e.message.replace(/^.*?(answered \d+|failed with [A-Z_]+): /, '');
      return { ms, error: `${kind}: ${said}` };
    }
    return { ms, error: `client: ${(e as Error).message}` };
  }
}

export async function runTest(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream & { isTTY?: boolean }): Promise<number> {
  let client: ModelClient | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        ...CONNECTION_FLAGS,
        ...REQUEST_FLAGS,
        contract: { type: 'string' },
        n: { type: 'string', short: 'n' },
        'batch-size': { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        progress: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      out.write(TEST_USAGE);
      return 0;
    }
    if (!values.contract) throw new UsageError('--contract <contract.json> is required');
    let text: string;
    try {
      text = readFileSync(values.contract, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the contract: ${(e as Error).message}`);
    }
    const contract = parseContract(parseJson(text, values.contract));
    const n = intFlag(values.n, 'n', 1) ?? 1;
    const batch = intFlag(values['batch-size'], 'batch-size', 1) ?? 1;
    const concurrency = intFlag(values.concurrency, 'concurrency', 1) ?? 1;
    let durationMs: number | undefined;
    if (values.duration !== undefined) {
      const d = Number(values.duration);
      if (!(d > 0)) throw new UsageError(`--duration must be a positive number of seconds, got "${values.duration}"`);
      durationMs = d * 1000;
    }
    const seed = intFlag(values.seed, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 31);
    const { options, protocol, model } = connection(values);
    const shape = { ...requestShape(values), names: featureNames(contract) };
    client = new ModelClient(options);
    const run: Run = { contract, client, protocol, model, shape, batch, random: rng(seed) };

    const latencies: number[] = [];
    const errorCounts = new Map<string, number>();
    let sent = 0;
    let failed = 0;
    const progress = values.progress || err.isTTY ? new Progress(err, durationMs ?? n, durationMs !== undefined) : undefined;
    const start = performance.now();
    const more = () => (durationMs !== undefined ? performance.now() - start < durationMs : sent < n);
    const worker = async () => {
      while (more()) {
        sent++;
        const r = await one(run);
        latencies.push(r.ms);
        if (r.error) {
          failed++;
          errorCounts.set(r.error, (errorCounts.get(r.error) ?? 0) + 1);
        }
        progress?.update(durationMs !== undefined ? performance.now() - start : latencies.length, latencies.length, failed);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    progress?.update(durationMs !== undefined ? performance.now() - start : latencies.length, latencies.length, failed, true);
    progress?.done();
    const durationS = (performance.now() - start) / 1000;
    const sorted = Float64Array.from(latencies).sort();
    const errors = failed;
    const summary: Summary = {
      requests: latencies.length,
      ok: latencies.length - errors,
      errors,
      durationS,
      throughput: latencies.length / durationS,
      latencyMs: {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1] ?? 0,
        mean: latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1),
      },
      errorCounts: [...errorCounts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
    };
    out.write(values.json ? `${JSON.stringify({ ...summary, seed })}\n` : formatSummary(summary, { protocol, transport: client.transport, batch, concurrency, seed }));
    return errors ? 1 : 0;
  } catch (e) {
    err.write(`modelfleet test: ${describeError(e)}\n`);
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) err.write(`(modelfleet test --help for the options)\n`);
    return e instanceof ClientError ? 1 : 2;
  } finally {
    client?.close();
  }
}

function formatSummary(s: Summary, run: { protocol: string; transport: string; batch: number; concurrency: number; seed: number }): string {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    `${run.protocol} over ${run.transport}: ${s.requests} requests of ${run.batch} row(s), concurrency ${run.concurrency}, seed ${run.seed}`,
    `ok ${s.ok}  errors ${s.errors}  in ${f(s.durationS)} s (${s.throughput.toFixed(1)} req/s)`,
    `latency ms  p50 ${f(s.latencyMs.p50)}  p90 ${f(s.latencyMs.p90)}  p99 ${f(s.latencyMs.p99)}  max ${f(s.latencyMs.max)}  mean ${f(s.latencyMs.mean)}`,
  ];
  if (s.errorCounts.length) {
    lines.push('errors:');
    for (const e of s.errorCounts) lines.push(`  ${String(e.count).padStart(6)}  ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}
