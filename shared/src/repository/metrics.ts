/**
 * Per-model metrics under the names MLServer exposes (model_infer_request_success_total, _failure_total,
 * model_infer_request_duration; labels model and version), so dashboards made for MLServer find them. The duration
 * is a histogram rather than MLServer's summary: both expose _sum and _count, and a histogram also aggregates
 * across pods.
 */
import { Counter, Histogram } from 'prom-client';
import type { ServerMetrics } from '../metrics/registry.js';

export interface ModelMetrics {
  forModel(model: string, version?: string): {
    success: { inc(): void };
    failure: { inc(): void };
    duration: { startTimer(): () => void };
  };
  /** MLServer's batch_request_queue: requests waiting in a model's adaptive batch when one more joins. */
  queue(model: string, version?: string): (size: number) => void;
}

const cache = new WeakMap<ServerMetrics, ModelMetrics>();

export function modelMetrics(metrics: ServerMetrics): ModelMetrics {
  const known = cache.get(metrics);
  if (known) return known;
  const registers = [metrics.registry];
  const labelNames = ['model', 'version'] as const;
  const success = new Counter({ name: 'model_infer_request_success_total', help: 'Successful inference requests, by model.', labelNames, registers });
  const failure = new Counter({ name: 'model_infer_request_failure_total', help: 'Failed inference requests, by model.', labelNames, registers });
  const duration = new Histogram({
    name: 'model_infer_request_duration',
    help: 'Inference time per request in seconds, by model (from the model plane to the answer).',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const queue = new Histogram({
    name: 'batch_request_queue',
    help: 'Requests in a model adaptive batch when one more joins.',
    labelNames,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  const made: ModelMetrics = {
    forModel: (model, version = '') => {
      const labels = { model, version };
      return { success: success.labels(labels), failure: failure.labels(labels), duration: duration.labels(labels) };
    },
    queue: (model, version = '') => {
      const h = queue.labels({ model, version });
      return (size) => h.observe(size);
    },
  };
  cache.set(metrics, made);
  return made;
}
