#!/usr/bin/env node
/**
 * modelfleet CLI: `modelfleet serve <IMPLEMENTATION> [flags]`. Flags override the container env contract
 * (PREDICTIVE_UNIT_*, MODEL_URI, ...), so the same server runs the same way from a shell and in a pod.
 */
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config/parameters.js';
import { parseSize, settingsFromEnv } from './config/settings.js';
import { applyServerFlags, SERVER_FLAGS } from './config/server-flags.js';
import { findPython } from './python/interpreter.js';
import { runServer } from './run.js';
import { loadDefinition, SERVERS } from './registry.js';
import { EXPLAIN_USAGE } from './explain/usage.js';
import { parseMode } from './logging/config.js';

const USAGE = `usage:
  modelfleet serve <IMPLEMENTATION> [options]     serve a model (${Object.keys(SERVERS).join(', ')})
  modelfleet serve <PythonClass> --model-dir <d>  serve your own class (Model, or package.module.Model) with
                                                  Seldon's language-wrapper contract
  modelfleet start [<repo-dir>] [options]         serve every model of a folder (MLServer's model-settings.json /
                                                  settings.json; --http-port 8080, --grpc-port 8081, --metrics-port 8082)
  modelfleet run <deployment.yaml> [options]      run a SeldonDeployment's graphs on this machine
                                                  (--http-port 8000, --grpc-port 5001, --metrics-port, --host)
${EXPLAIN_USAGE}
  modelfleet train-example <dir>                  train the iris example model into <dir>/model.joblib
  modelfleet predict --url <url> [--data <json>]  send one request and print the answer (--help for options)
  modelfleet test --contract <c.json> --url <url> random requests from a Seldon tester contract; latency summary
  modelfleet export <model-dir>                   write a sklearn pickle's native export beside it (starts skip Python)
  modelfleet detector fit|serve ...               outlier and drift detectors (modelfleet detector --help)
  modelfleet build <dir> --image <name:tag>       an image running the folder's Python class (s2i contract)
  modelfleet render <deployment.yaml> [-o file]   plain Kubernetes manifests for a SeldonDeployment

serve options (each overrides the environment variable named):
  --model-uri <uri>       MODEL_URI / model_uri parameter: folder, file://, pvc://, s3://, gs://, http(s)://
  --model-dir <dir>       the same, for a Python class: the folder holding its module (default: .)
  --model-name <name>     MLSERVER_MODEL_NAME / PREDICTIVE_UNIT_ID (default "model"): the V2 and V1 model name
  --model-version <v>     MLSERVER_MODEL_VERSION
  --method <m>            the "method" parameter (SKLEARN_SERVER: predict_proba | predict | decision_function)
  --param <name=value>    any server parameter (repeatable), as in PREDICTIVE_UNIT_PARAMETERS
  --http-port <n>         PREDICTIVE_UNIT_HTTP_SERVICE_PORT (9000)
  --grpc-port <n>         PREDICTIVE_UNIT_GRPC_SERVICE_PORT (9500)
  --metrics-port <n>      PREDICTIVE_UNIT_METRICS_SERVICE_PORT (6000)
  --host <addr>           MODELFLEET_HOST (0.0.0.0)
  --workers <n>           MODELFLEET_WORKERS / GUNICORN_WORKERS (one per core): Python processes or worker threads
  --max-body-size <size>  MODELFLEET_MAX_BODY_SIZE (100mb)
  --explainer <type>      MODELFLEET_EXPLAINER_TYPE: TreeShap | KernelShap | LinearShap | AnchorTabular
  --explainer-uri <uri>   MODELFLEET_EXPLAINER_URI: the explainer's background data (.npy / .csv)
  --explainer-config <j>  MODELFLEET_EXPLAINER_CONFIG: its settings as a JSON object
  --log-url <url>         MODELFLEET_LOGGER_URL: payload logging to a CloudEvents sink, file:///path or - (stdout)
  --log-mode <mode>       MODELFLEET_LOGGER_MODE: all | request | response (all)
`;

async function serve(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'model-uri': { type: 'string' },
      'model-dir': { type: 'string' },
      'model-name': { type: 'string' },
      'model-version': { type: 'string' },
      method: { type: 'string' },
      param: { type: 'string', multiple: true },
      ...SERVER_FLAGS,
      'max-body-size': { type: 'string' },
      explainer: { type: 'string' },
      'explainer-uri': { type: 'string' },
      'explainer-config': { type: 'string' },
      'log-url': { type: 'string' },
      'log-mode': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new ConfigError(`serve takes one implementation name\n${USAGE}`);
  // The server (and any cluster worker it forks) reads its explainer from the environment.
  if (values.explainer) process.env.MODELFLEET_EXPLAINER_TYPE = values.explainer;
  if (values['explainer-uri']) process.env.MODELFLEET_EXPLAINER_URI = values['explainer-uri'];
  if (values['explainer-config']) process.env.MODELFLEET_EXPLAINER_CONFIG = values['explainer-config'];
  const def = await loadDefinition(positionals[0]);
  const s = settingsFromEnv();
  applyServerFlags(s, values, { http: s.httpPort, grpc: s.grpcPort });
  if (values['model-uri'] ?? values['model-dir']) s.modelUri = values['model-uri'] ?? values['model-dir'];
  if (values['model-name']) s.modelName = values['model-name'];
  if (values['model-version']) s.modelVersion = values['model-version'];
  if (values['max-body-size']) s.maxBodyBytes = parseSize(values['max-body-size'], '--max-body-size');
  if (values['log-url']) s.requestLogger.url = values['log-url'];
  if (values['log-mode']) s.requestLogger.mode = parseMode(values['log-mode'], '--log-mode');
  if (values.method) s.parameters.push({ name: 'method', value: values.method });
  for (const p of values.param ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--param takes name=value, got "${p}"`);
    s.parameters.push({ name: p.slice(0, eq), value: p.slice(eq + 1) });
  }
  await runServer(def, s);
}

const TRAIN_IRIS = `
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), sys.argv[1])
`;

async function trainExample(args: string[]): Promise<void> {
  if (args.length !== 1) throw new ConfigError('train-example takes one folder');
  const dir = path.resolve(args[0]);
  mkdirSync(dir, { recursive: true });
  const py = await findPython(['sklearn', 'joblib']);
  await promisify(execFile)(py.bin, ['-c', TRAIN_IRIS, path.join(dir, 'model.joblib')]);
  process.stderr.write(`trained iris LogisticRegression into ${path.join(dir, 'model.joblib')}\n`);
}

/** `modelfleet run deployment.yaml`: the deployment is checked whole before anything starts. */
async function runDeployment(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: SERVER_FLAGS,
  });
  if (positionals.length !== 1) throw new ConfigError(`run takes one SeldonDeployment file\n${USAGE}`);
  const file = path.resolve(positionals[0]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${positionals[0]}: ${(err as Error).message}`);
  }
  // Graph code (and its YAML parser) loads only for `run`: `serve` starts without it.
  const [{ parseDeployment }, { deploymentDefinition }] = await Promise.all([import('./graph/deployment.js'), import('./graph/definition.js')]);
  const sdep = parseDeployment(text, positionals[0]);
  (await import('./explain/deployment.js')).applyDeploymentExplainer(sdep, file);
  const s = settingsFromEnv();
  // The executor's ports unless the flags or the env say otherwise.
  applyServerFlags(s, values, {
    http: process.env.PREDICTIVE_UNIT_HTTP_SERVICE_PORT ? s.httpPort : 8000,
    grpc: process.env.PREDICTIVE_UNIT_GRPC_SERVICE_PORT ? (s.grpcPort ?? 5001) : 5001,
  });
  s.modelUri = file;
  s.modelName = sdep.metadata.name;
  s.identity.deploymentName = sdep.metadata.name;
  s.parameters = [];
  await runServer(deploymentDefinition(sdep), s);
}

/**
 * `predict` and `test` live in @modelfleet/client, which builds on this package: a specifier TypeScript does not
 * resolve keeps the project graph acyclic, and serving never loads the client.
 */
async function clientCommand(command: string, args: string[]): Promise<void> {
  const specifier = '@modelfleet/client/cli';
  let client: { runCli(command: string, args: string[]): Promise<number> };
  try {
    client = await import(specifier);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new ConfigError(`modelfleet ${command} needs the @modelfleet/client package next to @modelfleet/shared (${(err as Error).message})`);
  }
  process.exitCode = await client.runCli(command, args);
}


async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  if (command === 'run') return runDeployment(rest);
  if (command === 'start') return (await import('./repository/start.js')).startCommand(rest);
  if (command === 'explain') return (await import('./explain/command.js')).explainCommand(rest);
  if (command === 'train-example') return trainExample(rest);
  if (command === 'predict' || command === 'test') return clientCommand(command, rest);
  if (command === 'export') return (await import('./export-command.js')).exportCommand(rest);
  if (command === 'detector') return (await import('./detect/cli.js')).detectorCommand(rest);
  if (command === 'build') return (await import('./deploy/build.js')).build(rest);
  if (command === 'render') return (await import('./deploy/render-cli.js')).render(rest);
  process.stdout.write(USAGE);
  if (command !== undefined && command !== '--help' && command !== '-h' && command !== 'help') process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`modelfleet: ${err instanceof ConfigError ? '' : 'error: '}${(err as Error).message}\n`);
  process.exit(2);
});
