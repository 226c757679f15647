/**
 * Seldon's multipart/form-data request form: each field is JSON except `strData` (kept as text); an uploaded
 * `binData` file becomes base64 text, any other file UTF-8 text. The result is a SeldonMessage-shaped object.
 */
import busboy from 'busboy';
import { badInput } from '../errors.js';
import { parsePythonJson } from './json-text.js';

export function parseSeldonMultipart(body: Buffer, contentType: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType } });
    } catch (e) {
      reject(badInput(`multipart body: ${(e as Error).message}`));
      return;
    }
    const message: Record<string, unknown> = {};
    const pending: Promise<void>[] = [];
    parser.on('field', (name, value) => {
      if (name === 'strData') {
        message[name] = value;
        return;
      }
      try {
        message[name] = parsePythonJson(value);
      } catch (e) {
        reject(badInput(`multipart field "${name}" is not JSON: ${(e as Error).message}`));
      }
    });
    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      pending.push(
        new Promise((done) => {
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const data = Buffer.concat(chunks);
            message[name] = name === 'binData' ? data.toString('base64') : data.toString('utf8');
            done();
          });
        }),
      );
    });
    parser.on('error', (e: Error) => reject(badInput(`multipart body: ${e.message}`)));
    parser.on('close', () => {
      Promise.all(pending).then(() => resolve(message), reject);
    });
    parser.end(body);
  });
}
