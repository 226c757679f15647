import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import yazl from 'yazl';

export interface TarEntry {
  path: string;
  body?: Buffer | string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  linkpath?: string;
}

/**
 * Builds a tar archive entry by entry, so tests can also write what a well-behaved tar tool would not
 * (`../` names, absolute names, links) — the entries a crafted model archive would carry.
 */
export function tarball(entries: TarEntry[], gzip = true): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path,
      mode: type === 'Directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      size: type === 'File' ? body.length : 0,
      mtime: new Date(),
      type,
      linkpath: e.linkpath,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const tar = Buffer.concat(blocks);
  return gzip ? gzipSync(tar) : tar;
}

/** A zip archive of `files`; `mode` per name lets a test add a symlink entry (0o120777). */
export async function zipball(files: Record<string, Buffer | string>, modes: Record<string, number> = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, body] of Object.entries(files)) zip.addBuffer(Buffer.from(body), name, modes[name] ? { mode: modes[name] } : {});
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Renames an entry inside a built zip by rewriting its name bytes (same length) in the local and central
 * headers: how to get a `../` name, which zip writers refuse to produce.
 */
export function renameInZip(zip: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('names must have the same length');
  const out = Buffer.from(zip);
  const a = Buffer.from(from);
  let i = 0;
  let n = 0;
  while ((i = out.indexOf(a, i)) >= 0) {
    out.write(to, i);
    i += a.length;
    n++;
  }
  if (n < 2) throw new Error(`${from} not found in both zip headers`);
  return out;
}
