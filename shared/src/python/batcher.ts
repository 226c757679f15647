import { unavailable } from '../errors.js';
import type { Parameters, Tensor } from '../tensor.js';
import { arrayCtor, elementCount, type NumericArray } from '../tensor.js';

/** One request waiting for a Python process. */
export interface Job {
  inputs: Tensor[];
  outputs: string[];
  parameters: Record<string, unknown>;
  resolve: (answer: { outputs: Tensor[]; parameters?: Parameters }) => void;
  reject: (err: unknown) => void;
  /** Set when the job must run alone. */
  solo?: boolean;
  /** Set once a Python process died running it: a second death reaches the client. */
  retried?: boolean;
}

/**
 * Requests wait here when every process is busy. When one frees up, the queued requests that can share a call
 * (one input each, same dtype and row width, same outputs and parameters) go to it as a single batch, up to
 * maxRows rows; nothing waits on a timer, so an idle server answers as fast as without batching.
 */
export class JobQueue {
  private readonly jobs: Job[] = [];

  constructor(
    private readonly maxQueue: number,
    private readonly maxRows: number,
  ) {}

  get length(): number {
    return this.jobs.length;
  }

  push(job: Job): void {
    if (this.jobs.length >= this.maxQueue) {
      job.reject(unavailable(`server busy: ${this.jobs.length} requests already waiting for a Python worker`));
      return;
    }
    this.jobs.push(job);
  }

  /** Puts jobs back at the head, unbatchable, so they run one by one (after a batch they were in failed). */
  pushFront(job: Job): void {
    job.solo = true;
    this.jobs.unshift(job);
  }

  /** Takes the next job and every queued job that can join its batch. */
  take(): Job[] {
    const first = this.jobs.shift();
    if (!first) return [];
    const batch = [first];
    if (!batchable(first) || this.maxRows <= 1) return batch;
    let rows = first.inputs[0].shape[0];
    const key = batchKey(first);
    for (let i = 0; i < this.jobs.length && rows < this.maxRows; ) {
      const j = this.jobs[i];
      if (batchable(j) && batchKey(j) === key && rows + j.inputs[0].shape[0] <= this.maxRows) {
        batch.push(j);
        rows += j.inputs[0].shape[0];
        this.jobs.splice(i, 1);
      } else {
        i++;
      }
    }
    return batch;
  }

  rejectAll(err: unknown): void {
    for (const j of this.jobs.splice(0)) j.reject(err);
  }
}

function batchable(j: Job): boolean {
  return !j.solo && j.inputs.length === 1 && j.inputs[0].shape.length >= 1;
}

function batchKey(j: Job): string {
  const t = j.inputs[0];
  return JSON.stringify([t.name, t.datatype, t.shape.slice(1), j.outputs, j.parameters]);
}

/** Concatenates the jobs' single inputs along the first axis. */
export function mergeInputs(batch: Job[]): Tensor {
  const first = batch[0].inputs[0];
  const rows = batch.reduce((n, j) => n + j.inputs[0].shape[0], 0);
  const shape = [rows, ...first.shape.slice(1)];
  if (first.datatype === 'BYTES') {
    return { ...first, shape, data: batch.flatMap((j) => j.inputs[0].data as Array<string | Uint8Array>) };
  }
  const out = new (arrayCtor(first.datatype))(elementCount(shape)) as NumericArray;
  let offset = 0;
  for (const j of batch) {
    const d = j.inputs[0].data as NumericArray;
    (out as Float64Array).set(d as Float64Array, offset);
    offset += d.length;
  }
  return { ...first, shape, data: out };
}

/** Splits batched outputs back per job by rows; undefined if an output is not per-row (then run them one by one). */
export function splitOutputs(outputs: Tensor[], batch: Job[]): Tensor[][] | undefined {
  const rows = batch.map((j) => j.inputs[0].shape[0]);
  const total = rows.reduce((a, b) => a + b, 0);
  if (!outputs.every((o) => o.shape.length >= 1 && o.shape[0] === total)) return undefined;
  const per: Tensor[][] = batch.map(() => []);
  for (const o of outputs) {
    const rowSize = elementCount(o.shape.slice(1));
    let start = 0;
    rows.forEach((n, k) => {
      const data = Array.isArray(o.data) ? o.data.slice(start * rowSize, (start + n) * rowSize) : o.data.slice(start * rowSize, (start + n) * rowSize);
      per[k].push({ ...o, shape: [n, ...o.shape.slice(1)], data });
      start += n;
    });
  }
  return per;
}
