import { ConfigError } from './config/parameters.js';
import type { Settings } from './config/settings.js';
import { startServer } from './server.js';
import type { ServerDefinition } from './server-definition.js';

/**
 * Runs a server as a process: a configuration error or a model that fails to load exits non-zero with the reason
 * (so Kubernetes shows it and restarts the pod); SIGTERM/SIGINT drain in-flight requests, then exit 0.
 */
export async function runServer(def: ServerDefinition, settings: Settings): Promise<void> {
  let server;
  try {
    server = await startServer(def, settings);
  } catch (err) {
    const prefix = err instanceof ConfigError ? 'configuration error' : 'cannot start';
    process.stderr.write(`${def.implementation}: ${prefix}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const running = server;
  const onSignal = (signal: string) => {
    process.stderr.write(`${def.implementation}: ${signal} received\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    await running.ready;
  } catch {
    await running.stop();
    process.exit(1);
  }
}
