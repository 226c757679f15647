/**
 * Adaptive batching (MLServer's max_batch_size / max_batch_time) in front of any runtime: concurrent requests with
 * stackable inputs wait up to max_batch_time from the first one, or until max_batch_size requests have come, then
 * go to the engine as one call and the answer is split back by rows. A batch that fails or whose outputs are not
 * one row per input row runs again request by request, so one bad request never fails the others (MLServer fails
 * the whole batch). Several batches may be in flight at once.
 */
import type { InferenceRequest, InferenceResponse, ModelMetadata, ModelRuntime, ProtocolName } from '../runtime.js';
import type { SeldonComponent } from '../seldon/component.js';
import { rowsOf, splitOutputs, stackInputs, stackKey } from './merge.js';

export interface BatchingOptions {
  /** Requests per batch (MLServer counts requests, not rows). */
  maxBatchSize: number;
  /** Longest wait from a batch's first request, in ms. */
  maxBatchTimeMs: number;
  /** Called with the batch size each time a request joins (batch_request_queue). */
  queued?: (size: number) => void;
}

interface Waiting {
  request: InferenceRequest;
  rows: number;
  resolve: (r: InferenceResponse) => void;
  reject: (e: unknown) => void;
}

interface Open {
  items: Waiting[];
  timer: NodeJS.Timeout;
}

export class AdaptiveBatcher implements ModelRuntime {
  private readonly open = new Map<string, Open>();
  /** Batches handed to the engine so far, and the requests in them: the metadata shows how well batching works. */
  private batches = 0;
  private batched = 0;

  constructor(
    readonly inner: ModelRuntime,
    private readonly opts: BatchingOptions,
  ) {}

  get seldon(): SeldonComponent | undefined {
    return this.inner.seldon;
  }

  load(): Promise<void> {
    return this.inner.load();
  }

  infer(request: InferenceRequest): Promise<InferenceResponse> {
    const rows = rowsOf(request);
    if (rows === undefined) return this.inner.infer(request);
    const key = stackKey(request);
    return new Promise((resolve, reject) => {
      let batch = this.open.get(key);
      if (!batch) {
        batch = { items: [], timer: setTimeout(() => this.flush(key), this.opts.maxBatchTimeMs) };
        this.open.set(key, batch);
      }
      batch.items.push({ request, rows, resolve, reject });
      this.opts.queued?.(batch.items.length);
      if (batch.items.length >= this.opts.maxBatchSize) this.flush(key);
    });
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    clearTimeout(batch.timer);
    const { items } = batch;
    this.batches++;
    this.batched += items.length;
    if (items.length === 1) {
      this.alone(items[0]);
      return;
    }
    const first = items[0].request;
    const merged: InferenceRequest = { inputs: stackInputs(items.map((i) => i.request)), outputs: first.outputs, parameters: first.parameters };
    this.inner.infer(merged).then(
      (response) => {
        const split = splitOutputs(response.outputs, items.map((i) => i.rows));
        if (!split) return items.forEach((i) => this.alone(i));
        items.forEach((item, k) => item.resolve({ id: item.request.id, outputs: split[k], ...(response.parameters ? { parameters: response.parameters } : {}) }));
      },
      () => items.forEach((i) => this.alone(i)),
    );
  }

  private alone(item: Waiting): void {
    this.inner.infer(item.request).then(item.resolve, item.reject);
  }

  metadata(): ModelMetadata {
    const md = this.inner.metadata();
    return {
      ...md,
      parameters: {
        ...md.parameters,
        max_batch_size: this.opts.maxBatchSize,
        max_batch_time: this.opts.maxBatchTimeMs / 1000,
        batches: this.batches,
        mean_batch_size: this.batches ? Math.round((this.batched / this.batches) * 100) / 100 : 0,
      },
    };
  }

  defaultOutputs(protocol: ProtocolName): string[] {
    return this.inner.defaultOutputs(protocol);
  }

  async unload(): Promise<void> {
    // Requests still gathering go now rather than after their timer; then the engine stops.
    for (const key of [...this.open.keys()]) this.flush(key);
    await this.inner.unload();
  }
}
