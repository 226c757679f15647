import { ConfigError } from './config/parameters.js';
import type { ServerDefinition } from './server-definition.js';

/** Implementation names (as in a SeldonDeployment) -> the package that serves them, loaded on demand. */
export const SERVERS: Record<string, string> = {
  SKLEARN_SERVER: '@modelfleet/sklearnserver',
  XGBOOST_SERVER: '@modelfleet/xgboostserver',
  TENSORFLOW_SERVER: '@modelfleet/tensorflowserver',
};
const ALIASES: Record<string, string> = { sklearn: 'SKLEARN_SERVER', xgboost: 'XGBOOST_SERVER', tensorflow: 'TENSORFLOW_SERVER' };

export async function loadDefinition(name: string): Promise<ServerDefinition> {
  const impl = ALIASES[name] ?? name.toUpperCase();
  const pkg = SERVERS[impl];
  if (!pkg) throw new ConfigError(`unknown implementation "${name}"; known: ${Object.keys(SERVERS).join(', ')}`);
  const mod = (await import(pkg)) as { definition: ServerDefinition };
  return mod.definition;
}
