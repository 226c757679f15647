/**
 * `modelfleet export MODEL_DIR [--implementation SKLEARN_SERVER]`: the native export of a model, written beside it,
 * so servers started on that folder (an image that bakes it in, a volume storage-init filled) skip Python.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './config/parameters.js';
import { loadDefinition } from './registry.js';

export async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { implementation: { type: 'string' } } });
  if (positionals.length !== 1) throw new ConfigError('export takes one model folder (or file)');
  const def = await loadDefinition(values.implementation ?? 'SKLEARN_SERVER');
  if (!def.exportAhead) throw new ConfigError(`${def.implementation} has nothing to export ahead: it loads its models natively`);
  for (const file of await def.exportAhead(positionals[0])) process.stderr.write(`wrote ${file}\n`);
}
