import { unavailable } from '../errors.js';
import type { Parameters, Tensor } from '../tensor.js';
import { stackKey } from '../batching/merge.js';

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
 * maxRows rows, stacked and split by batching/merge.ts (the mechanism adaptive batching uses too); nothing waits
 * on a timer, so an idle server answers as fast as without batching.
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
  return stackKey(j);
}
