/**
 * `modelfleet build <dir> --image <name:tag>`: an image running a folder's Python class with the language wrapper,
 * as Seldon's `s2i build <dir> seldon-core-s2i-python3 <image>` makes one (same `.s2i/environment` contract), with
 * docker or podman, whichever is here. Dockerfile: deploy/builder/Dockerfile.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { ConfigError } from '../config/parameters.js';
import { imageRef, packageVersion, PYTHON_IMAGE } from './images.js';

const BUILDER_DOCKERFILE = fileURLToPath(new URL('../../../deploy/builder/Dockerfile', import.meta.url));
const SERVICE_TYPES = ['MODEL', 'ROUTER', 'TRANSFORMER', 'COMBINER', 'OUTLIER_DETECTOR'];
const API_TYPES = ['REST', 'GRPC'];

export class BuildError extends Error {}

/** `.s2i/environment`: KEY=VALUE lines (comments, blank lines, `export` and quotes allowed). */
export function parseS2iEnvironment(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ConfigError(`.s2i/environment: expected KEY=VALUE, got "${raw.trim()}"`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

export interface BuildSettings {
  modelName: string;
  serviceType: string;
  apiType: string;
  persistence: string;
}

/** What the folder asks for, checked as s2i's assemble checks it (plus what modelfleet cannot honour). */
export function buildSettings(dir: string): BuildSettings {
  const envFile = path.join(dir, '.s2i', 'environment');
  const env = existsSync(envFile) ? parseS2iEnvironment(readFileSync(envFile, 'utf8')) : {};
  const modelName = env.MODEL_NAME ?? (existsSync(path.join(dir, 'Model.py')) ? 'Model' : undefined);
  if (!modelName) throw new ConfigError(`${dir}: set MODEL_NAME in .s2i/environment (the class, e.g. MyModel for MyModel.py), or add Model.py`);
  // `Model` is class Model in Model.py; `package.module.Model` is in package/module.py (the wrapper's rule).
  const parts = modelName.split('.');
  const moduleFile = path.join(dir, ...(parts.length > 1 ? parts.slice(0, -1) : parts)) + '.py';
  if (!existsSync(moduleFile)) throw new ConfigError(`${dir}: MODEL_NAME=${modelName} but ${path.relative(dir, moduleFile)} is not there`);
  const serviceType = env.SERVICE_TYPE ?? 'MODEL';
  if (!SERVICE_TYPES.includes(serviceType)) throw new ConfigError(`.s2i/environment: SERVICE_TYPE must be one of ${SERVICE_TYPES.join(', ')}, got "${serviceType}"`);
  const apiType = (env.API_TYPE ?? 'REST').toUpperCase();
  if (!API_TYPES.includes(apiType)) throw new ConfigError(`.s2i/environment: API_TYPE must be REST or GRPC, got "${env.API_TYPE}" (both are served either way)`);
  const persistence = env.PERSISTENCE ?? '0';
  if (persistence !== '0') throw new ConfigError(`.s2i/environment: PERSISTENCE=${persistence} (Seldon's Redis persistence) is not supported; set PERSISTENCE=0`);
  return { modelName, serviceType, apiType, persistence };
}

/** docker or podman: the one asked for, else docker when its daemon answers, else podman when installed. */
export async function findEngine(asked?: string): Promise<string> {
  const run = promisify(execFile);
  const works = async (bin: string, args: string[]) => run(bin, args, { timeout: 20_000 }).then(() => undefined, (e: NodeJS.ErrnoException & { stderr?: string }) => (e.code === 'ENOENT' ? 'not installed' : (e.stderr || e.message).trim().split('\n')[0]));
  if (asked) {
    const why = await works(asked, ['version']);
    if (why) throw new BuildError(`${asked} cannot run: ${why}`);
    return asked;
  }
  const docker = await works('docker', ['version']);
  if (!docker) return 'docker';
  const podman = await works('podman', ['version']);
  if (!podman) return 'podman';
  throw new BuildError(`neither docker nor podman can build here (docker: ${docker}; podman: ${podman}); install one, or pass --engine`);
}

export interface BuildOptions {
  dir: string;
  image: string;
  baseImage: string;
  engine?: string;
  /** Extra pip arguments, e.g. --index-url for a private index (s2i's EXTRA_INDEX_URL). */
  pipArgs?: string;
  /** Where the engine's output goes (stderr by default). */
  output?: NodeJS.WritableStream;
}

/** Builds the image; a requirement that cannot be installed is a BuildError naming it. Returns the engine used. */
export async function buildImage(o: BuildOptions): Promise<string> {
  const dir = path.resolve(o.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${o.dir} is not a folder`);
  const s = buildSettings(dir);
  const engine = await findEngine(o.engine);
  const args = ['build', '-f', BUILDER_DOCKERFILE, '-t', o.image, '--build-arg', `BASE_IMAGE=${o.baseImage}`];
  for (const [k, v] of Object.entries({ MODEL_NAME: s.modelName, SERVICE_TYPE: s.serviceType, API_TYPE: s.apiType, PERSISTENCE: s.persistence, PIP_ARGS: o.pipArgs ?? '' })) {
    args.push('--build-arg', `${k}=${v}`);
  }
  args.push(dir);
  const out = o.output ?? process.stderr;
  const child = spawn(engine, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let all = '';
  const collect = (chunk: Buffer) => {
    out.write(chunk);
    all += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    // Only lines the RUN step printed itself: the engine also echoes the step's source, which holds the marker too.
    const errors = [...all.matchAll(/^modelfleet-build-error: (.*)$/gm)].map((m) => m[1]);
    if (errors.length) throw new BuildError(`${o.image}: ${errors.join('\n')}`);
    throw new BuildError(`${engine} build failed (exit ${code}):\n${all.trim().split('\n').slice(-10).join('\n')}`);
  }
  return engine;
}

/** CLI: modelfleet build <dir> --image <name:tag> [--base <image>] [--engine docker|podman] [--pip-args "..."] */
export async function build(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { image: { type: 'string', short: 't' }, base: { type: 'string' }, engine: { type: 'string' }, 'pip-args': { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.image) throw new ConfigError('usage: modelfleet build <dir> --image <name:tag> [--base <image>] [--engine docker|podman]');
  const baseImage = values.base ?? process.env.MODELFLEET_PYTHON_IMAGE ?? imageRef(PYTHON_IMAGE, { prefix: 'modelfleet/', tag: packageVersion() });
  try {
    const engine = await buildImage({ dir: positionals[0], image: values.image, baseImage, engine: values.engine ?? process.env.MODELFLEET_CONTAINER_ENGINE, pipArgs: values['pip-args'] });
    process.stderr.write(`modelfleet build: ${values.image} built with ${engine} from ${baseImage}\n`);
  } catch (err) {
    if (err instanceof BuildError) {
      process.stderr.write(`modelfleet build: error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
