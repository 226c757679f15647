import type { DataPlane } from './dataplane.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics/registry.js';
import type { PayloadLogger } from './logging/index.js';

/** What every protocol server (REST, gRPC) is given: the model's data plane, metrics, log and identity. */
export interface ServerContext {
  plane: DataPlane;
  metrics: ServerMetrics;
  log: Logger;
  /** PREDICTIVE_UNIT_ID and PREDICTIVE_UNIT_IMAGE, when set: added to meta.requestPath. */
  unit?: { id: string; image: string };
  /** Seldon metadata document (metadata.yaml / MODEL_METADATA merged over the model's own). */
  seldonMetadata(): Record<string, unknown> | Promise<Record<string, unknown>>;
  serverName: string;
  serverVersion: string;
  /** Payload logging of inference requests (MODELFLEET_LOGGER_URL), when on. */
  requestLog?: PayloadLogger;
}
