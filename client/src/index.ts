export { ModelClient, type ModelClientOptions } from './client.js';
export type { ClientOptions, TlsOptions } from './options.js';
export { ClientError } from './errors.js';
export { SeldonClient, seldonData, seldonTensor, type SeldonFeedback, type SeldonMessage, type SeldonMeta, type SeldonPayload } from './seldon.js';
export { V2Client, type InferOptions, type InferResult, type RepositoryEntry, type V2ModelMetadata } from './v2.js';
export { KServeV1Client, type V1Request } from './kserve.js';
export { toNested, toTensor, type Datatype, type Tensor, type TensorInput, type TypedArray } from './tensors.js';
