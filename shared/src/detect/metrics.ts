/**
 * The detector server's Prometheus metrics, named as alibi-detect-server's (Seldon's SeldonMetrics: a COUNTER gets
 * `_total`): one sample per instance or feature, label `index`, plus `method` (the event type) and
 * `seldon_deployment_namespace` (env SELDON_DEPLOYMENT_NAMESPACE, else NOT_IMPLEMENTED).
 */
import { Counter, Gauge, Registry } from 'prom-client';

const LABELS = ['method', 'seldon_deployment_namespace', 'index'] as const;

export class DetectorMetrics {
  readonly registry = new Registry();
  private readonly isOutlier = new Counter({ name: 'seldon_metric_outlier_is_outlier_total', help: 'outliers flagged, per instance index', labelNames: LABELS, registers: [this.registry] });
  private readonly instanceScore = new Gauge({ name: 'seldon_metric_outlier_instance_score', help: 'last outlier score, per instance index', labelNames: LABELS, registers: [this.registry] });
  private readonly driftCounter = new Counter({ name: 'seldon_metric_drift_counter_total', help: 'drift detections, per index', labelNames: LABELS, registers: [this.registry] });
  private readonly driftGauges = {
    is_drift: new Gauge({ name: 'seldon_metric_drift_is_drift', help: 'last drift decision, per index', labelNames: LABELS, registers: [this.registry] }),
    distance: new Gauge({ name: 'seldon_metric_drift_distance', help: 'last drift distance, per feature', labelNames: LABELS, registers: [this.registry] }),
    p_val: new Gauge({ name: 'seldon_metric_drift_p_val', help: 'last drift p-value, per feature', labelNames: LABELS, registers: [this.registry] }),
    threshold: new Gauge({ name: 'seldon_metric_drift_threshold', help: 'last drift threshold, per index', labelNames: LABELS, registers: [this.registry] }),
  };
  private readonly namespace = process.env.SELDON_DEPLOYMENT_NAMESPACE || 'NOT_IMPLEMENTED';

  constructor(private readonly method: string) {}

  private labels(i: number) {
    return { method: this.method, seldon_deployment_namespace: this.namespace, index: String(i) };
  }

  outlier(data: { is_outlier: number[]; instance_score?: number[] | null }): void {
    data.is_outlier.forEach((v, i) => this.isOutlier.inc(this.labels(i), v));
    data.instance_score?.forEach((v, i) => this.instanceScore.set(this.labels(i), v));
  }

  drift(data: Record<string, number | number[] | null>): void {
    const list = (v: number | number[] | null | undefined): number[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);
    list(data.is_drift).forEach((v, i) => this.driftCounter.inc(this.labels(i), v));
    for (const [key, gauge] of Object.entries(this.driftGauges)) list(data[key]).forEach((v, i) => gauge.set(this.labels(i), v));
  }
}
