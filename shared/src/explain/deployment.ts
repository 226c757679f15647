/**
 * `modelfleet run`: a predictor's `explainer` field (type, modelUri, config, as in a SeldonDeployment) becomes the
 * server's explainer, explaining that deployment's graph; Seldon's ingress path for it is also answered.
 */
import path from 'node:path';
import { ConfigError } from '../config/parameters.js';
import type { SeldonDeployment } from '../graph/deployment.js';

export interface ExplainerField {
  type?: string;
  modelUri?: string;
  config?: Record<string, unknown>;
  env?: Array<{ name: string; value?: string }>;
}

/** Sets the MODELFLEET_EXPLAINER_* environment the server reads from the deployment's explainer, if it has one. */
export function applyDeploymentExplainer(sdep: SeldonDeployment, file: string, env: NodeJS.ProcessEnv = process.env): void {
  const withExplainer = sdep.spec.predictors.filter((p) => (p as { explainer?: ExplainerField }).explainer);
  if (!withExplainer.length) return;
  if (withExplainer.length > 1) throw new ConfigError(`modelfleet run serves one explainer; predictors ${withExplainer.map((p) => p.name).join(', ')} each have one`);
  const p = withExplainer[0];
  const e = (p as { explainer?: ExplainerField }).explainer!;
  if (!e.type) throw new ConfigError(`predictor "${p.name}": explainer.type is required (TreeShap, KernelShap, LinearShap, AnchorTabular)`);
  env.MODELFLEET_EXPLAINER_TYPE = e.type;
  if (e.modelUri) {
    // Relative local paths are relative to the deployment file, as the graph's own modelUris are.
    const local = !/^[a-z][a-z0-9+.-]*:\/\//i.test(e.modelUri) && !path.isAbsolute(e.modelUri);
    env.MODELFLEET_EXPLAINER_URI = local ? path.resolve(path.dirname(file), e.modelUri) : e.modelUri;
  }
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.config ?? {})) config[k] = typeof v === 'string' ? v : JSON.stringify(v);
  env.MODELFLEET_EXPLAINER_CONFIG = JSON.stringify(config);
  env.MODELFLEET_EXPLAINER_NAME = `${sdep.metadata.name}-${p.name}-explainer`;
  for (const { name, value } of e.env ?? []) if (value !== undefined && !(name in env)) env[name] = value;
}
