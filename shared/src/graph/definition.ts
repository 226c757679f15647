import type { ServerDefinition } from '../server-definition.js';
import type { SeldonDeployment } from './deployment.js';
import { DeploymentRuntime } from './runtime.js';

/** A SeldonDeployment served as one server by `modelfleet run` (the "model" is the deployment file). */
export function deploymentDefinition(sdep: SeldonDeployment): ServerDefinition {
  return {
    implementation: `SeldonDeployment/${sdep.metadata.name}`,
    image: 'modelfleet/executor',
    description: `SeldonDeployment ${sdep.metadata.name}`,
    parameters: [],
    anyParameters: true,
    createRuntime: async (ctx) => new DeploymentRuntime(sdep, ctx),
  };
}
