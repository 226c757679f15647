import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ServingError } from '../errors.js';

/** A metric as a Seldon model class reports it (`metrics()`, SeldonResponse, or meta.metrics of a *_raw hook). */
export interface UserMetric {
  key: string;
  type: 'COUNTER' | 'GAUGE' | 'TIMER';
  value: number;
  tags?: Record<string, string>;
}

/** Seldon's TIMER histogram: 50 log-spaced upper bounds from 1 ms to 30 s (values arrive in milliseconds). */
const TIMER_BUCKETS = Array.from({ length: 50 }, (_, i) => 0.001 * Math.pow(30 / 0.001, i / 49));
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * User metrics with Seldon's semantics: COUNTER adds (exposed as <key>_total), GAUGE sets, TIMER observes ms as
 * seconds. Labels are the metric's tags plus `method` (predict, feedback, inputtransform, ...); the identity labels
 * come from the registry's defaults. A metric's label names are fixed by its first report.
 */
export class UserMetrics {
  private readonly metrics = new Map<string, { type: UserMetric['type']; labels: string[]; metric: Counter | Gauge | Histogram }>();

  constructor(private readonly registry: Registry) {}

  record(method: string, list: readonly UserMetric[]): void {
    for (const m of list) {
      if (!NAME.test(m.key)) throw bad(`metric key "${m.key}" is not a valid Prometheus name`);
      const tags: Record<string, string> = { ...m.tags, method };
      let entry = this.metrics.get(m.key);
      if (!entry) {
        const labelNames = Object.keys(tags).filter((k) => NAME.test(k) && !k.startsWith('__')).sort();
        const opts = { help: `${m.type.toLowerCase()} reported by the model`, labelNames, registers: [this.registry] };
        let metric: Counter | Gauge | Histogram;
        try {
          if (m.type === 'COUNTER') metric = new Counter({ name: `${m.key}_total`, ...opts });
          else if (m.type === 'GAUGE') metric = new Gauge({ name: m.key, ...opts });
          else metric = new Histogram({ name: m.key, buckets: TIMER_BUCKETS, ...opts });
        } catch (err) {
          throw bad(`metric "${m.key}" cannot be registered: ${(err as Error).message}`);
        }
        entry = { type: m.type, labels: labelNames, metric };
        this.metrics.set(m.key, entry);
      }
      if (entry.type !== m.type) throw bad(`metric "${m.key}" was a ${entry.type} and is now reported as a ${m.type}`);
      const labels = Object.fromEntries(entry.labels.map((k) => [k, tags[k] ?? '']));
      if (m.type === 'COUNTER') {
        if (m.value < 0) throw bad(`counter "${m.key}" cannot decrease (value ${m.value})`);
        (entry.metric as Counter).inc(labels, m.value);
      } else if (m.type === 'GAUGE') (entry.metric as Gauge).set(labels, m.value);
      else (entry.metric as Histogram).observe(labels, m.value / 1000);
    }
  }
}

const bad = (message: string) => new ServingError('internal', message, { reason: 'MICROSERVICE_BAD_METRIC' });
