import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { safeRelative } from './paths.js';
import { PermanentError } from './retry.js';

export type ArchiveKind = 'tar' | 'zip';

/** Archives are recognised by name, as KServe does: .tar, .tar.gz, .tgz and .zip. */
export function archiveKind(name: string): ArchiveKind | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.tar') || n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'tar';
  if (n.endsWith('.zip')) return 'zip';
  return undefined;
}

/**
 * Unpacks `file` into the empty folder `dest`. Entries that would land outside it (absolute paths, `..`), links and
 * special files are refused: the whole unpack fails, so a crafted archive never yields a half-trusted model folder.
 */
export async function unpack(file: string, kind: ArchiveKind, dest: string): Promise<void> {
  if (kind === 'tar') await untar(file, dest);
  else await unzip(file, dest);
}

async function untar(file: string, dest: string): Promise<void> {
  const refused: string[] = [];
  try {
    await tar.x({
      file,
      cwd: dest,
      strict: true,
      // Owners and modes from elsewhere mean nothing here; files stay readable by the server.
      preserveOwner: false,
      filter: (entryPath, entry) => {
        const type = 'type' in entry ? entry.type : 'File';
        if (type === 'SymbolicLink' || type === 'Link') refused.push(`${entryPath} (link)`);
        else if (!['File', 'OldFile', 'ContiguousFile', 'Directory'].includes(type)) refused.push(`${entryPath} (${type})`);
        else if (safeRelative(entryPath) === undefined) refused.push(entryPath);
        else return true;
        return false;
      },
    });
  } catch (err) {
    throw new PermanentError(`cannot unpack ${path.basename(file)}: ${(err as Error).message}`, { cause: err });
  }
  if (refused.length) throw new PermanentError(`archive ${path.basename(file)} has entries that escape the destination: ${refused.slice(0, 5).join(', ')}`);
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function unzip(file: string, dest: string): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    // decodeStrings stays on: yauzl itself rejects absolute and `..` names, and we check again below.
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: true }, (err, z) =>
      err ? reject(new PermanentError(`cannot read ${path.basename(file)} as a zip archive: ${err.message}`)) : resolve(z),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      zip.close();
      reject(err instanceof PermanentError ? err : new PermanentError(`cannot unpack ${path.basename(file)}: ${err.message}`, { cause: err }));
    };
    zip.on('error', fail);
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = entry.fileName;
      const rel = safeRelative(name);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (rel === undefined) return fail(new PermanentError(`archive ${path.basename(file)} has an entry that escapes the destination: ${name}`));
      if (mode === S_IFLNK) return fail(new PermanentError(`archive ${path.basename(file)} has a link entry, refused: ${name}`));
      const target = path.join(dest, rel);
      if (name.endsWith('/')) {
        mkdir(target, { recursive: true }).then(() => zip.readEntry(), fail);
        return;
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err) return fail(err);
        mkdir(path.dirname(target), { recursive: true })
          .then(() => pipeline(stream, createWriteStream(target)))
          .then(() => zip.readEntry(), fail);
      });
    });
    zip.readEntry();
  });
}
