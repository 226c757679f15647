/**
 * `modelfleet start <repo-dir>`: MLServer's `mlserver start <folder>` — every model of the folder in one server,
 * settings.json at its root for the server (ports, workers, debug...), MLServer's env (MLSERVER_*) and then flags
 * over it. Without a folder, MLSERVER_MODELS_DIR, or a single model from MLSERVER_MODEL_* env.
 * A model that fails to load is reported by the index and the others serve; the process keeps running.
 */
import cluster from 'node:cluster';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/parameters.js';
import { settingsFromEnv, type Settings } from '../config/settings.js';
import { applyServerFlags, SERVER_FLAGS } from '../config/server-flags.js';
import { createLogger } from '../logger.js';
import { ServerMetrics } from '../metrics/registry.js';
import { runPrimary, READY } from '../run.js';
import { serveModels, type RunningServer, type StartOptions } from '../server.js';
import { joinCluster, relayRepositoryOps } from './cluster.js';
import { readServerSettings, specFromEnv } from './model-settings.js';
import { ModelRepository } from './repository.js';
import { mountModelRoutes } from './routes.js';

export interface RepositoryStart {
  /** The repository folder; '' for env-only. */
  root: string;
  settings: Settings;
  loadAtStartup?: boolean;
  serverName?: string;
  serverVersion?: string;
  env?: NodeJS.ProcessEnv;
  /** In a cluster worker: the primary aggregates metrics and relays loads/unloads to every process. */
  cluster?: { options: StartOptions; join: Awaited<ReturnType<typeof joinCluster>> };
}

export async function startRepository(opts: RepositoryStart): Promise<RunningServer> {
  const log = createLogger('repository');
  const { settings } = opts;
  const metrics = new ServerMetrics(settings.identity);
  const repo = new ModelRepository({ root: opts.root, settings, log, metrics, extra: specFromEnv(opts.env ?? process.env) });
  repo.scan(); // a folder that cannot be read, or the same model twice, stops the start here
  const join = opts.cluster?.join;
  if (join) {
    repo.control = join.run;
    join.serve(repo);
  }
  return serveModels({
    name: 'repository',
    log,
    metrics,
    plane: repo,
    settings,
    options: opts.cluster?.options ?? {},
    routes: (app, ctx) => mountModelRoutes(app, ctx, repo),
    seldonMetadata: async () => {
      const md = repo.metadata();
      return { name: md.name, versions: md.versions ?? [], platform: md.platform, inputs: md.inputs, outputs: md.outputs };
    },
    what: `the models of ${opts.root || 'MLSERVER_MODEL_* env'}`,
    load: async () => (opts.loadAtStartup === false ? repo.startEmpty(join?.state) : repo.loadAll(join?.state)),
    serverName: opts.serverName,
    serverVersion: opts.serverVersion,
  });
}

/** Settings for `start`: MLServer's ports (8080/8081/8082) unless the env or settings.json say otherwise, then flags. */
export function repositorySettings(root: string, args: { [K in keyof typeof SERVER_FLAGS]?: string }, env: NodeJS.ProcessEnv = process.env) {
  const file = root ? readServerSettings(root) : { ignored: [] as string[] };
  const s = settingsFromEnv({
    MLSERVER_HTTP_PORT: '8080',
    MLSERVER_GRPC_PORT: '8081',
    MLSERVER_METRICS_PORT: '8082',
    MLSERVER_METRICS_ENDPOINT: '/metrics',
    ...env,
  });
  if (file.host) s.host = file.host;
  if (file.httpPort !== undefined) s.httpPort = file.httpPort;
  if (file.grpcPort !== undefined) s.grpcPort = file.grpcPort;
  if (file.metricsPort !== undefined) s.metricsPort = file.metricsPort;
  if (file.metricsEndpoint) s.metricsPath = file.metricsEndpoint;
  if (file.parallelWorkers) s.workers = Math.floor(file.parallelWorkers);
  applyServerFlags(s, args, { http: s.httpPort, grpc: s.grpcPort });
  return { settings: s, file };
}

/** The CLI entry: runs until SIGTERM/SIGINT, then drains every model. */
export async function startCommand(argv: string[], base?: Settings): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: SERVER_FLAGS });
  if (positionals.length > 1) throw new ConfigError('start takes one model repository folder');
  const given = positionals[0] ?? process.env.MLSERVER_MODELS_DIR;
  const root = given ? path.resolve(given) : '';
  if (root && !(existsSync(root) && statSync(root).isDirectory())) throw new ConfigError(`model repository ${given} is not a folder`);
  if (!root && !process.env.MLSERVER_MODEL_IMPLEMENTATION) {
    throw new ConfigError('start needs a model repository folder (or MLSERVER_MODELS_DIR, or MLSERVER_MODEL_IMPLEMENTATION and MLSERVER_MODEL_URI)');
  }
  const { settings, file } = base ? { settings: base, file: root ? readServerSettings(root) : { ignored: [] as string[] } } : repositorySettings(root, values);
  if (file.debug) process.env.LOG_LEVEL = 'debug';
  const log = createLogger('repository');
  if (file.ignored.length) log.warn(`settings.json: not used by modelfleet: ${file.ignored.join(', ')}`);
  // Every HTTP process holds every model, so a repository runs in one process unless asked for more
  // (MODELFLEET_HTTP_PROCESSES): the all-CPUs default would multiply its memory by the number of CPUs.
  if (settings.httpProcesses > 1 && !process.env.MODELFLEET_HTTP_PROCESSES) settings.httpProcesses = 1;
  if (settings.httpProcesses > 1 && cluster.isPrimary) {
    relayRepositoryOps();
    return runPrimary('repository', settings);
  }
  const server = await startRepository({
    root: file.modelRepositoryRoot ?? root,
    settings,
    loadAtStartup: file.loadModelsAtStartup ?? process.env.MLSERVER_LOAD_MODELS_AT_STARTUP !== 'false',
    serverName: file.serverName,
    serverVersion: file.serverVersion,
    cluster: cluster.isWorker
      ? {
          options: { clusterWorker: { metricsPort: Number(process.env.MODELFLEET_CLUSTER_METRICS_PORT), bindAfterLoad: process.env.MODELFLEET_CLUSTER_BIND_EARLY !== '1' } },
          join: await joinCluster(),
        }
      : undefined,
  });
  const stop = (signal: string) => {
    log.info(`${signal} received`);
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await server.ready;
  if (cluster.isWorker) process.send?.(READY);
}
