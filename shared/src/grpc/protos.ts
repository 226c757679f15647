import { fileURLToPath } from 'node:url';
import type { Options } from '@grpc/proto-loader';

/** Our .proto files (seldon.protos, inference, tensorflow TensorProto). */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

/** How every server and client here loads them: field names as written, int64 as strings, bytes as Buffers. */
export const PROTO_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
  arrays: true,
  includeDirs: [PROTO_DIR],
};
