#!/usr/bin/env node
// storage-init <uri> [dest-dir]: the storage-initializer convention (Seldon's rclone image and KServe's
// initializer take the same two arguments), so this can replace the stock init container.
import { cp, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fetchModel, localPathOf, StorageError } from './index.js';

const usage = 'usage: storage-init <uri> [dest-dir]   (dest-dir defaults to /mnt/models)';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.log(usage);
    return 0;
  }
  if (argv.length < 1 || argv.length > 2) {
    console.error(usage);
    return 2;
  }
  const [uri, destArg = '/mnt/models'] = argv;
  const dest = path.resolve(destArg);
  const log = (m: string) => console.error(`[storage-init] ${m}`);
  const local = localPathOf(uri);
  if (local !== undefined) {
    // The library uses local paths in place; an init container must still fill dest, so copy.
    await fetchModel(uri, { log });
    if (path.resolve(local) !== dest) {
      await mkdir(dest, { recursive: true });
      const isDir = (await stat(local)).isDirectory();
      await cp(local, isDir ? dest : path.join(dest, path.basename(local)), { recursive: true, force: true });
      log(`copied ${local} to ${dest}`);
    }
    return 0;
  }
  const out = await fetchModel(uri, { dest, log });
  log(`model ready in ${out}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const msg = err instanceof StorageError ? err.message : `storage-init: ${(err as Error)?.message ?? String(err)}`;
    console.error(`storage-init: error: ${msg.split('\n')[0]}`);
    process.exit(1);
  },
);
