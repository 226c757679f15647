import { ConfigError, type ParameterSpec } from '../config/parameters.js';

export interface OnnxThreads {
  /** Threads one operator may use (onnxruntime's intraOpNumThreads); undefined leaves onnxruntime's default. */
  intraOpThreads?: number;
  /** Threads running independent operators at once (interOpNumThreads; > 1 switches to parallel execution mode). */
  interOpThreads?: number;
}

/** Parameters every server that can serve ONNX files accepts. */
export const ONNX_PARAMETERS: ParameterSpec[] = [
  {
    name: 'intra_op_threads',
    type: 'INT',
    description: 'ONNX engine: threads per operator (0 = onnxruntime default, one per core); env MODELFLEET_ONNX_INTRA_OP_THREADS',
    default: 0,
  },
  {
    name: 'inter_op_threads',
    type: 'INT',
    description: 'ONNX engine: threads running independent operators in parallel (0 = sequential); env MODELFLEET_ONNX_INTER_OP_THREADS',
    default: 0,
  },
];

function count(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${what} must be a non-negative integer, got "${String(value)}"`);
  return n === 0 ? undefined : n;
}

/** Server parameters win over the environment; 0 or absent means onnxruntime's own default. */
export function onnxThreads(params: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): OnnxThreads {
  return {
    intraOpThreads: count(params.intra_op_threads, 'intra_op_threads') ?? count(env.MODELFLEET_ONNX_INTRA_OP_THREADS, 'MODELFLEET_ONNX_INTRA_OP_THREADS'),
    interOpThreads: count(params.inter_op_threads, 'inter_op_threads') ?? count(env.MODELFLEET_ONNX_INTER_OP_THREADS, 'MODELFLEET_ONNX_INTER_OP_THREADS'),
  };
}
