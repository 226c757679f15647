/** `modelfleet predict`: one request from --data, --file or stdin; prints the answer as JSON. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ModelClient } from '../client.js';
import { ClientError } from '../errors.js';
import { isDatatype } from '@modelfleet/shared/tensor';
import { CONNECTION_FLAGS, CONNECTION_USAGE, connection, describeError, UsageError } from './args.js';
import { callOnce, type RequestShape } from './request.js';

export const PREDICT_USAGE = `usage: modelfleet predict --url <url> [--data <json> | --file <f> | stdin] [options]
  --data <json>            rows ([[5.1,3.5,1.4,0.2]]) or a whole request body of the protocol
  --file <path>            the same from a file ("-" or no --data/--file: stdin)
  --payload ndarray|tensor|tftensor   Seldon data form (default ndarray)
  --names a,b,...  --tags <json>  --puid <id>   Seldon data.names, meta.tags, meta.puid
  --binary                 V2 over REST: the binary tensor data extension both ways
  --datatype <DT>          V2 input datatype (default from the data: FP64, BOOL or BYTES)
  --input-name <n>         V2 input name (default input-0)     --outputs a,b   V2 outputs to return
  --explain                call the explainer (Seldon /api/v1.0/explain, KServe :explain) instead
  --metadata               print the model metadata instead (no data)
exit codes: 0 answered, 1 the server answered an error (its body is printed), 2 bad usage
${CONNECTION_USAGE}`;

export const REQUEST_FLAGS = {
  payload: { type: 'string', default: 'ndarray' },
  names: { type: 'string' },
  tags: { type: 'string' },
  puid: { type: 'string' },
  binary: { type: 'boolean' },
  datatype: { type: 'string' },
  'input-name': { type: 'string', default: 'input-0' },
  outputs: { type: 'string' },
} as const;

export function requestShape(v: { [K in keyof typeof REQUEST_FLAGS]?: string | boolean } & { explain?: boolean }): RequestShape {
  const payload = v.payload as string;
  if (!['ndarray', 'tensor', 'tftensor'].includes(payload)) throw new UsageError(`--payload must be ndarray, tensor or tftensor, got "${payload}"`);
  if (v.datatype !== undefined && !isDatatype(v.datatype)) throw new UsageError(`--datatype ${String(v.datatype)} is not a V2 datatype`);
  let tags: Record<string, unknown> | undefined;
  if (v.tags !== undefined) {
    tags = parseJson(String(v.tags), '--tags') as Record<string, unknown>;
    if (!tags || typeof tags !== 'object' || Array.isArray(tags)) throw new UsageError('--tags must be a JSON object');
  }
  return {
    payload: payload as RequestShape['payload'],
    names: typeof v.names === 'string' ? v.names.split(',') : undefined,
    tags,
    puid: v.puid as string | undefined,
    binary: Boolean(v.binary),
    datatype: v.datatype as RequestShape['datatype'],
    inputName: v['input-name'] as string,
    outputs: typeof v.outputs === 'string' ? v.outputs.split(',') : undefined,
    explain: Boolean(v.explain),
  };
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message}`);
  }
}

function readStdin(): string {
  if (process.stdin.isTTY) throw new UsageError('no data: give --data, --file, or pipe the request on stdin');
  return readFileSync(0, 'utf8');
}

export async function predict(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let client: ModelClient | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: { ...CONNECTION_FLAGS, ...REQUEST_FLAGS, data: { type: 'string' }, file: { type: 'string' }, explain: { type: 'boolean' }, metadata: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      out.write(PREDICT_USAGE);
      return 0;
    }
    const { options, protocol, model } = connection(values);
    const shape = requestShape(values);
    client = new ModelClient(options);
    if (values.metadata) {
      const md = protocol === 'v2' ? await client.v2.modelMetadata(model) : protocol === 'seldon' ? await client.seldon.metadata() : { name: model, ready: await client.kserve.ready(model) };
      out.write(`${JSON.stringify(md)}\n`);
      return 0;
    }
    const text = values.data ?? (values.file && values.file !== '-' ? readFileSync(values.file, 'utf8') : readStdin());
    const data = parseJson(text, values.data !== undefined ? '--data' : values.file ?? 'stdin');
    const answer = await callOnce(client, protocol, model, data, shape);
    out.write(`${JSON.stringify(answer.json)}\n`);
    return 0;
  } catch (e) {
    err.write(`modelfleet predict: ${describeError(e)}\n`);
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) err.write(`(modelfleet predict --help for the options)\n`);
    // The server (or the network to it) failed: 1. Anything about what we were asked to send: 2.
    return e instanceof ClientError ? 1 : 2;
  } finally {
    client?.close();
  }
}
