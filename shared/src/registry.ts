import { ConfigError } from './config/parameters.js';
import type { ServerDefinition } from './server-definition.js';
import { pythonClassDefinition } from './wrapper/definition.js';

/** Implementation names (as in a SeldonDeployment) -> the package that serves them, loaded on demand. */
export const SERVERS: Record<string, string> = {
  SKLEARN_SERVER: '@modelfleet/sklearnserver',
  XGBOOST_SERVER: '@modelfleet/xgboostserver',
  TENSORFLOW_SERVER: '@modelfleet/tensorflowserver',
  MLFLOW_SERVER: '@modelfleet/mlflowserver',
};
const ALIASES: Record<string, string> = { sklearn: 'SKLEARN_SERVER', xgboost: 'XGBOOST_SERVER', tensorflow: 'TENSORFLOW_SERVER', mlflow: 'MLFLOW_SERVER' };

/**
 * A prepackaged implementation by name, or a user's Python class (`Model`, `package.module.Model`) served with
 * Seldon's language-wrapper contract. Names that look like implementations (FOO_SERVER) never become classes.
 */
export async function loadDefinition(name: string): Promise<ServerDefinition> {
  const impl = ALIASES[name] ?? name.toUpperCase();
  const pkg = SERVERS[impl];
  if (!pkg && !/_SERVER$/i.test(name) && /^[A-Za-z_][\w.]*$/.test(name) && name !== name.toUpperCase()) return pythonClassDefinition(name);
  if (!pkg) throw new ConfigError(`unknown implementation "${name}"; known: ${Object.keys(SERVERS).join(', ')}, or a Python class name (Model, package.module.Model)`);
  const mod = (await import(pkg)) as { definition: ServerDefinition };
  return mod.definition;
}
