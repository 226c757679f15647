import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config/parameters.js';
import { applyKserveArgs } from './config/kserve-args.js';
import { implementationFor } from './repository/model-settings.js';
import { implementationOfFolder, scanRepository } from './repository/scan.js';
import { settingsFromEnv, type Settings } from './config/settings.js';
import { createLogger } from './logger.js';
import { createClusterMetricsServer } from './metrics/registry.js';
import { startServer, type StartOptions } from './server.js';
import type { ServerDefinition } from './server-definition.js';

/** Exit codes a worker uses for what restarting cannot fix. */
const EXIT_CONFIG = 2;
const EXIT_LOAD = 1;

/**
 * Runs a server as a process: a configuration error exits 2 and a model that fails to load exits 1, with the
 * reason (so Kubernetes shows it and restarts the pod); SIGTERM/SIGINT drain in-flight requests, then exit 0.
 * With more than one HTTP process (the default on a machine with several CPUs, MODELFLEET_HTTP_PROCESSES to choose)
 * the process becomes a cluster primary that forks that many servers sharing the HTTP and gRPC ports.
 */
export async function runServer(def: ServerDefinition, settings: Settings): Promise<void> {
  if (settings.httpProcesses > 1 && cluster.isPrimary) return runPrimary(def.image.split('/').pop() ?? def.implementation, settings);
  const metricsPort = Number(process.env.MODELFLEET_CLUSTER_METRICS_PORT);
  const bindAfterLoad = process.env.MODELFLEET_CLUSTER_BIND_EARLY !== '1';
  await runOne(def, settings, cluster.isWorker ? { clusterWorker: { metricsPort, bindAfterLoad } } : {});
}

/**
 * A server package's container entry point: the env contract (Seldon's, and MLServer's MLSERVER_*), and KServe's
 * model-server arguments, so the image takes the place of Seldon's, MLServer's or KServe's. As KServe's servers do,
 * a --model_dir holding no model file of its own but model folders serves them all (a model repository).
 */
export async function runFromEnv(def: ServerDefinition, argv = process.argv.slice(2)): Promise<void> {
  let settings: Settings;
  let repositoryRoot: string | undefined;
  try {
    settings = settingsFromEnv();
    const ignored = applyKserveArgs(settings, argv);
    if (ignored.length) process.stderr.write(`${def.implementation}: KServe arguments that change nothing here: ${ignored.map((n) => `--${n}`).join(', ')}\n`);
    const named = process.env.MLSERVER_MODEL_IMPLEMENTATION;
    if (named && implementationFor(named, 'MLSERVER_MODEL_IMPLEMENTATION') !== def.implementation) {
      throw new ConfigError(`MLSERVER_MODEL_IMPLEMENTATION=${named} is not what this server serves (${def.implementation}); use that server's image or \`modelfleet start\``);
    }
    // Only KServe's --model_dir, and only for prepackaged servers: a user class's folder may well hold model folders.
    if (!def.anyParameters && argv.some((a) => /^--model[_-]dir\b/.test(a))) repositoryRoot = repositoryFolder(settings.modelUri);
  } catch (err) {
    process.stderr.write(`${def.implementation}: configuration error: ${(err as Error).message}\n`);
    process.exit(EXIT_CONFIG);
  }
  if (repositoryRoot) {
    const { startCommand } = await import('./repository/start.js');
    process.stderr.write(`${def.implementation}: ${repositoryRoot} holds model folders, not a model: serving it as a model repository\n`);
    try {
      await startCommand([repositoryRoot], settings);
    } catch (err) {
      process.stderr.write(`${def.implementation}: configuration error: ${(err as Error).message}\n`);
      process.exit(EXIT_CONFIG);
    }
    return;
  }
  await runServer(def, settings);
}

/** A local folder with no model file at its top but sub-folders that are models; undefined otherwise. */
function repositoryFolder(uri: string | undefined): string | undefined {
  if (!uri || /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || !existsSync(uri) || !statSync(uri).isDirectory()) return undefined;
  if (existsSync(path.join(uri, 'model-settings.json')) || implementationOfFolder(uri)) return undefined;
  return scanRepository(uri).length ? uri : undefined;
}

async function runOne(def: ServerDefinition, settings: Settings, options: StartOptions): Promise<void> {
  let server;
  try {
    server = await startServer(def, settings, options);
  } catch (err) {
    const prefix = err instanceof ConfigError ? 'configuration error' : 'cannot start';
    process.stderr.write(`${def.implementation}: ${prefix}: ${(err as Error).message}\n`);
    process.exit(EXIT_CONFIG);
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
    process.exit(EXIT_LOAD);
  }
  if (cluster.isWorker) process.send?.(READY);
}

/** A server process tells the primary its model is loaded. */
export const READY = { modelfleet: 'ready' };

/** The cluster primary: forks `settings.httpProcesses` servers (this same command), replaces those that die. */
export async function runPrimary(label: string, settings: Settings): Promise<void> {
  const log = createLogger(`${label}:primary`);
  const metricsServer = createClusterMetricsServer(settings.metricsPath);
  await new Promise<void>((resolve, reject) => {
    metricsServer.once('error', reject);
    metricsServer.listen(settings.metricsPort, settings.host, () => resolve());
  });
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  log.info(`${settings.httpProcesses} server processes share the HTTP and gRPC ports; metrics of all on :${metricsPort}${settings.metricsPath}`);
  let stopping = false;
  // The first server binds at once so probes get answers while it loads; the others (and replacements) join the
  // shared ports only when their model is loaded. The others start once the first is loaded: on a small machine
  // they would slow its start, and they find what it cached (a sklearn pickle's native export) instead of
  // redoing it.
  let forked = 0;
  const fork = () => cluster.fork({ MODELFLEET_CLUSTER_METRICS_PORT: String(metricsPort), MODELFLEET_CLUSTER_BIND_EARLY: forked++ === 0 ? '1' : '0' });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      // A worker leaves cluster.workers only after both its 'exit' and 'disconnect', in either order: count the
      // processes still running instead, or the last exit can find itself still listed and the primary never ends.
      if (!Object.values(cluster.workers ?? {}).some((w) => w && !w.isDead())) {
        metricsServer.close();
        process.exit(0);
      }
      return;
    }
    if (code === EXIT_CONFIG || code === EXIT_LOAD) {
      // Every process would fail the same way: stop all and report it, like a single process would.
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      metricsServer.close();
      process.exitCode = code;
      return;
    }
    log.error(`server process ${worker.process.pid} exited (${signal ?? code}); starting another`);
    fork();
  });
  const stop = (signal: string) => {
    log.info(`${signal} received: stopping ${Object.keys(cluster.workers ?? {}).length} server processes`);
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  let othersStarted = false;
  cluster.on('message', (_worker, m: unknown) => {
    if ((m as typeof READY | undefined)?.modelfleet !== READY.modelfleet || stopping || othersStarted) return;
    othersStarted = true;
    for (let i = 1; i < settings.httpProcesses; i++) fork();
  });
  fork();
}
