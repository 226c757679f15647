/** `modelfleet render <deployment.yaml> [--out file] [--image-prefix p] [--tag t] [--namespace ns]`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/parameters.js';
import { parseDeployment } from '../graph/deployment.js';
import { packageVersion } from './images.js';
import { renderManifests, walk } from './render.js';

export async function render(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      'image-prefix': { type: 'string' },
      tag: { type: 'string' },
      namespace: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new ConfigError('render takes one SeldonDeployment file');
  let text: string;
  try {
    text = readFileSync(positionals[0], 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${positionals[0]}: ${(err as Error).message}`);
  }
  const sdep = parseDeployment(text, positionals[0]);
  // A path on this machine means nothing to a pod's init container.
  for (const p of sdep.spec.predictors) {
    walk(p.graph, (n) => {
      if (n.modelUri && !/^[a-z][a-z0-9+.-]*:\/\//i.test(n.modelUri)) {
        process.stderr.write(`modelfleet render: warning: node "${n.name}" has modelUri ${n.modelUri}, a local path; the pod's storage-init will look for it inside its own container (use s3://, gs://, http(s):// or pvc://)\n`);
      }
    });
  }
  const yaml = renderManifests(sdep, {
    prefix: values['image-prefix'] ?? 'modelfleet/',
    tag: values.tag ?? packageVersion(),
    namespace: values.namespace,
  });
  if (values.out) writeFileSync(values.out, yaml);
  else process.stdout.write(yaml);
}
