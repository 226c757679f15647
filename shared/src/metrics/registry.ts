import http from 'node:http';
import { UserMetrics } from './user-metrics.js';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Seldon's identity labels, put on every sample so dashboards built for Seldon keep working. */
export interface Identity {
  deploymentName: string;
  predictorName: string;
  predictorVersion: string;
  modelName: string;
  modelImage: string;
  modelVersion: string;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'protocol' | 'endpoint' | 'code'>;
  readonly duration: Histogram<'protocol' | 'endpoint' | 'code'>;
  readonly feedback: Counter;
  readonly feedbackReward: Counter;
  /** Metrics a user's model class reports (Python language wrapper). */
  readonly user: UserMetrics;

  constructor(identity: Identity) {
    this.registry.setDefaultLabels({
      deployment_name: identity.deploymentName,
      predictor_name: identity.predictorName,
      predictor_version: identity.predictorVersion,
      model_name: identity.modelName,
      model_image: identity.modelImage,
      model_version: identity.modelVersion,
    });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'modelfleet_requests_total',
      help: 'Requests served, by protocol, endpoint and HTTP/gRPC status code.',
      labelNames: ['protocol', 'endpoint', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'modelfleet_request_duration_seconds',
      help: 'Time from request received to response sent, by protocol, endpoint and status code.',
      labelNames: ['protocol', 'endpoint', 'code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    // Seldon's wrapper names for feedback (counters carry _total in their exposed names).
    this.feedback = new Counter({ name: 'seldon_api_model_feedback_total', help: 'Feedback messages with a reward.', labelNames: ['method'], registers });
    this.feedbackReward = new Counter({ name: 'seldon_api_model_feedback_reward_total', help: 'Sum of feedback rewards.', labelNames: ['method'], registers });
    this.user = new UserMetrics(this.registry);
  }
}

/** The metrics port: Prometheus text on the configured path (Seldon sets /prometheus) and on /metrics. */
function metricsServer(path: string, scrape: () => Promise<{ body: string; contentType: string }>): http.Server {
  const paths = new Set([path, '/metrics']);
  return http.createServer(async (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || !paths.has(url)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`metrics are served on ${[...paths].join(' and ')}\n`);
      return;
    }
    try {
      const { body, contentType } = await scrape();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
}

export function createMetricsServer(metrics: ServerMetrics, path: string): http.Server {
  return metricsServer(path, async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }));
}

/** In a cluster worker: answer the primary's requests for this process's metrics. */
export function shareWithPrimary(metrics: ServerMetrics): void {
  new AggregatorRegistry(); // installs the worker's IPC listener
  AggregatorRegistry.setRegistries([metrics.registry]);
}

/** In the cluster primary: the metrics port, summing every worker's registry. */
export function createClusterMetricsServer(path: string): http.Server {
  const aggregator = new AggregatorRegistry();
  return metricsServer(path, async () => ({ body: await aggregator.clusterMetrics(), contentType: aggregator.contentType }));
}
