/**
 * `modelfleet detector fit ...` writes a saved detector; `modelfleet detector serve ...` runs the detector server
 * with alibi-detect-server's arguments (each also read from the environment variable named in DETECTOR_USAGE).
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fetchModel } from '@modelfleet/storage-init';
import { ConfigError } from '../config/parameters.js';
import { createLogger } from '../logger.js';
import { readMatrix } from './data-file.js';
import { fitDetector, type FitOptions } from './fit.js';
import { loadDetectorFile, saveDetector } from './saved.js';
import { startDetectorServer } from './server.js';

export const DETECTOR_USAGE = `usage:
  modelfleet detector fit --type <T> --data <reference.csv|.npy> --out <dir> [options]
      T: KSDrift | ChiSquareDrift | TabularDrift | Mahalanobis | IForest
      drift:       --p-val 0.05  --correction bonferroni|fdr  --alternative two-sided|less|greater
                   --categories-per-feature '{"3": null, "4": 2}'  (ChiSquareDrift: every column by default)
      outlier:     --threshold <t> | --threshold-perc 95
      Mahalanobis: --n-components 3  --std-clip 3  --start-clip 100  --max-n <n>
      IForest:     --n-estimators 100  --seed <s>  |  --model <fitted IsolationForest .joblib>
  modelfleet detector serve [options] OutlierDetector|DriftDetector [--drift_batch_size 1000]
      --storage_uri <uri>   STORAGE_URI       the fitted detector (folder with detector.json; any storage-init URI)
      --model_name <n>      MODEL_NAME        (model)
      --http_port <p>       HTTP_PORT         (8080)
      --protocol <p>        PROTOCOL          seldon.http | tensorflow.http (default) | v2 | kfserving.http
      --reply_url <url>     REPLY_URL         send each result on as a CloudEvent
      --event_type <t>      EVENT_TYPE        e.g. io.seldon.serving.inference.outlier
      --event_source <s>    EVENT_SOURCE      e.g. io.seldon.serving.iris-outlier
      --host <addr>         MODELFLEET_HOST   (0.0.0.0)
      detector kind         DETECTOR_TYPE;    --drift_batch_size: DRIFT_BATCH_SIZE
      ALIBI_DETECT_RETURN_INSTANCE_SCORE=true, ALIBI_DETECT_DRIFT_TYPE_FEATURE=true, SELDON_DEPLOYMENT_NAMESPACE
`;

const numberFlag = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`--${name} must be a number, got "${v}"`);
  return n;
};

async function fit(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      type: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' },
      'p-val': { type: 'string' }, correction: { type: 'string' }, alternative: { type: 'string' },
      'categories-per-feature': { type: 'string' }, threshold: { type: 'string' }, 'threshold-perc': { type: 'string' },
      'n-components': { type: 'string' }, 'std-clip': { type: 'string' }, 'start-clip': { type: 'string' }, 'max-n': { type: 'string' },
      'n-estimators': { type: 'string' }, seed: { type: 'string' }, model: { type: 'string' },
    },
  });
  if (!values.type || !values.data || !values.out) throw new ConfigError(`fit needs --type, --data and --out\n${DETECTOR_USAGE}`);
  if (values.correction && !['bonferroni', 'fdr'].includes(values.correction)) throw new ConfigError('--correction is bonferroni or fdr');
  if (values.alternative && !['two-sided', 'less', 'greater'].includes(values.alternative)) throw new ConfigError('--alternative is two-sided, less or greater');
  let cats: FitOptions['categoriesPerFeature'];
  if (values['categories-per-feature']) {
    try {
      cats = JSON.parse(values['categories-per-feature']) as FitOptions['categoriesPerFeature'];
    } catch {
      throw new ConfigError('--categories-per-feature must be JSON, e.g. \'{"3": null, "4": 2}\'');
    }
  }
  const x = readMatrix(values.data);
  const det = await fitDetector(values.type, x, {
    pVal: numberFlag(values['p-val'], 'p-val'),
    correction: values.correction as FitOptions['correction'],
    alternative: values.alternative as FitOptions['alternative'],
    categoriesPerFeature: cats,
    threshold: numberFlag(values.threshold, 'threshold'),
    thresholdPerc: numberFlag(values['threshold-perc'], 'threshold-perc'),
    nComponents: numberFlag(values['n-components'], 'n-components'),
    stdClip: numberFlag(values['std-clip'], 'std-clip'),
    startClip: numberFlag(values['start-clip'], 'start-clip'),
    maxN: numberFlag(values['max-n'], 'max-n') ?? null,
    nEstimators: numberFlag(values['n-estimators'], 'n-estimators'),
    seed: numberFlag(values.seed, 'seed'),
    model: values.model,
  });
  const file = saveDetector(det, path.resolve(values.out));
  const extra = det.kind === 'outlier' ? `, threshold ${det.threshold}` : '';
  process.stderr.write(`fitted ${det.name} on ${x.rows} x ${x.cols}${extra} -> ${file}\n`);
}

async function serve(args: string[]): Promise<void> {
  const env = process.env;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model_name: { type: 'string' }, http_port: { type: 'string' }, protocol: { type: 'string' }, storage_uri: { type: 'string' },
      reply_url: { type: 'string' }, event_type: { type: 'string' }, event_source: { type: 'string' }, host: { type: 'string' },
      drift_batch_size: { type: 'string' }, elasticsearch_uri: { type: 'string' },
    },
  });
  const kind = positionals[0] ?? env.DETECTOR_TYPE;
  if (positionals.length > 1 || (kind !== 'OutlierDetector' && kind !== 'DriftDetector')) {
    throw new ConfigError(`serve takes OutlierDetector or DriftDetector (AdversarialDetector and MetricsServer are not provided)\n${DETECTOR_USAGE}`);
  }
  const storageUri = values.storage_uri ?? env.STORAGE_URI;
  if (!storageUri) throw new ConfigError('--storage_uri (STORAGE_URI) is required');
  const port = Number(values.http_port ?? env.HTTP_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--http_port must be a port number`);
  const batch = Number(values.drift_batch_size ?? env.DRIFT_BATCH_SIZE ?? 1000);
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('--drift_batch_size must be a positive integer');
  const protocol = values.protocol ?? env.PROTOCOL ?? 'tensorflow.http';
  if (!['seldon.http', 'tensorflow.http', 'kfserving.http', 'v2'].includes(protocol)) throw new ConfigError(`--protocol must be seldon.http, tensorflow.http, kfserving.http or v2, got "${protocol}"`);
  const log = createLogger('detector', (env.CESERVER_LOGLEVEL?.toLowerCase() as 'info' | undefined) ?? undefined);
  if (values.elasticsearch_uri) log.warn('--elasticsearch_uri is accepted but not used: send results to a request logger with --reply_url');
  let detector;
  try {
    const dir = await fetchModel(storageUri, { log: (m) => log.info(m) });
    detector = loadDetectorFile(dir);
  } catch (err) {
    log.error(`cannot load the detector from ${storageUri}: ${(err as Error).message}`);
    process.exit(1);
  }
  let running;
  try {
    running = await startDetectorServer(detector, {
      modelName: values.model_name ?? env.MODEL_NAME ?? 'model',
      host: values.host ?? env.MODELFLEET_HOST,
      httpPort: port,
      protocol,
      replyUrl: values.reply_url ?? env.REPLY_URL ?? '',
      eventType: values.event_type ?? env.EVENT_TYPE ?? '',
      eventSource: values.event_source ?? env.EVENT_SOURCE ?? '',
      detectorKind: kind,
      driftBatchSize: batch,
      returnInstanceScore: (env.ALIBI_DETECT_RETURN_INSTANCE_SCORE ?? '').toLowerCase() === 'true',
      driftTypeFeature: (env.ALIBI_DETECT_DRIFT_TYPE_FEATURE ?? '').toUpperCase() === 'TRUE',
      log,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export async function detectorCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'fit') return fit(rest);
  if (sub === 'serve') return serve(rest);
  if (sub === '--help' || sub === '-h' || sub === 'help') return void process.stdout.write(DETECTOR_USAGE);
  throw new ConfigError(DETECTOR_USAGE);
}
