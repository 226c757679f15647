import { ConfigError } from '../config/parameters.js';
import type { ServerDefinition } from '../server-definition.js';
import { UserModelRuntime } from './runtime.js';

const SERVICE_TYPES = ['MODEL', 'ROUTER', 'TRANSFORMER', 'COMBINER', 'OUTLIER_DETECTOR'];
const INTERFACE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * A user's Python class as a server (Seldon's `seldon-core-microservice <interface_name>`): every
 * PREDICTIVE_UNIT_PARAMETERS entry is a constructor keyword argument, and the model folder (MODEL_URI, default the
 * working directory as in Seldon's images) holds the class's module.
 */
export function pythonClassDefinition(interfaceName: string, env: NodeJS.ProcessEnv = process.env): ServerDefinition {
  if (!INTERFACE.test(interfaceName)) throw new ConfigError(`"${interfaceName}" is not a Python class name (Model or package.module.Model)`);
  const serviceType = (env.SERVICE_TYPE ?? 'MODEL').toUpperCase();
  if (!SERVICE_TYPES.includes(serviceType)) throw new ConfigError(`SERVICE_TYPE must be one of ${SERVICE_TYPES.join(', ')}, got "${env.SERVICE_TYPE}"`);
  return {
    implementation: interfaceName,
    image: 'modelfleet/python-class',
    description: `Python class ${interfaceName} with Seldon's language-wrapper contract`,
    parameters: [],
    anyParameters: true,
    defaultModelUri: '.',
    createRuntime: async (ctx) =>
      new UserModelRuntime({
        interfaceName,
        modelPath: ctx.modelPath,
        parameters: ctx.params,
        name: ctx.modelName,
        version: ctx.modelVersion,
        workers: ctx.workers,
        maxQueue: ctx.maxQueue,
        log: ctx.log,
        metrics: ctx.metrics,
        unit: ctx.unit,
        includeMetrics: (env.INCLUDE_METRICS_IN_CLIENT_RESPONSE ?? 'true').toLowerCase() !== 'false',
      }),
  };
}
