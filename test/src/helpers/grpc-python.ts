import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPython } from '@modelfleet/shared/python/interpreter';
import { REPO } from './server.js';

const run = promisify(execFile);

/**
 * An independent gRPC client: Python's grpcio with stubs that Debian's grpc_tools compiles from our .proto files at
 * test time. Each call is a step; the script prints every step's result (or gRPC error) as JSON.
 */
const CLIENT = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import grpc
from google.protobuf import json_format
import prediction_pb2 as pb, prediction_pb2_grpc as pbg, grpc_service_pb2 as v2, grpc_service_pb2_grpc as v2g

target, steps = sys.argv[2], json.load(sys.stdin)
channel = grpc.insecure_channel(target, options=[('grpc.max_send_message_length', 512 << 20), ('grpc.max_receive_message_length', 512 << 20)])
seldon_stubs = {name: getattr(pbg, name + 'Stub')(channel) for name in ('Model', 'Seldon', 'Generic', 'Transformer', 'OutputTransformer', 'Router', 'Combiner')}
infer = v2g.GRPCInferenceServiceStub(channel)
out = {}
for step in steps:
    try:
        call = step['call']
        if call == 'seldon':
            msg = json_format.ParseDict(step['message'], pb.SeldonMessage())
            res = getattr(seldon_stubs[step.get('service', 'Model')], step.get('method', 'Predict'))(msg)
            out[step['id']] = json_format.MessageToDict(res)
        elif call == 'aggregate':
            res = seldon_stubs['Combiner'].Aggregate(json_format.ParseDict(step['message'], pb.SeldonMessageList()))
            out[step['id']] = json_format.MessageToDict(res)
        elif call == 'feedback':
            res = seldon_stubs['Model'].SendFeedback(json_format.ParseDict(step['message'], pb.Feedback()))
            out[step['id']] = json_format.MessageToDict(res)
        elif call == 'seldon_metadata':
            from google.protobuf import empty_pb2
            out[step['id']] = json_format.MessageToDict(seldon_stubs['Model'].Metadata(empty_pb2.Empty()))
        elif call == 'infer':
            req = json_format.ParseDict(step['request'], v2.ModelInferRequest())
            for r in step.get('raw', []):
                req.raw_input_contents.append(base64.b64decode(r))
            if 'raw_f32_values' in step:  # big payloads are generated here rather than passed through JSON
                import numpy as np
                req.raw_input_contents.append(np.full(step['raw_f32_values'], 5.0, dtype='<f4').tobytes())
            res = infer.ModelInfer(req)
            d = json_format.MessageToDict(res, preserving_proto_field_name=True)
            if step.get('summarise_raw'):
                d['raw_output_sizes'] = [len(b) for b in res.raw_output_contents]
                d['raw_output_head'] = [base64.b64encode(b[:64]).decode() for b in res.raw_output_contents]
                d.pop('raw_output_contents', None)
            out[step['id']] = d
        elif call == 'stream':  # ModelStreamInfer: every request written on one stream, every answer collected
            reqs = [json_format.ParseDict(r, v2.ModelInferRequest()) for r in step['requests']]
            out[step['id']] = [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in infer.ModelStreamInfer(iter(reqs))]
        elif call in ('ServerLive', 'ServerReady', 'ServerMetadata'):
            out[step['id']] = json_format.MessageToDict(getattr(infer, call)(getattr(v2, call + 'Request')()), preserving_proto_field_name=True)
        elif call in ('ModelReady', 'ModelMetadata', 'ModelConfig'):
            req = getattr(v2, call + 'Request')(name=step['name'], version=step.get('version', ''))
            out[step['id']] = json_format.MessageToDict(getattr(infer, call)(req), preserving_proto_field_name=True, including_default_value_fields=True)
        elif call == 'garbage':
            fn = channel.unary_unary(step['method'], request_serializer=lambda b: b, response_deserializer=lambda b: b)
            fn(base64.b64decode(step['bytes']))
            out[step['id']] = {'ok': True}
    except grpc.RpcError as e:
        out[step['id']] = {'error': e.code().name, 'details': e.details()}
print(json.dumps(out))
`;

let stubs: Promise<{ python: string; dir: string }> | undefined;

function compileStubs(): Promise<{ python: string; dir: string }> {
  stubs ??= (async () => {
    const py = await findPython(['grpc', 'grpc_tools', 'numpy']);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-stubs-'));
    const protoDir = path.join(REPO, 'shared/proto');
    const files = ['prediction.proto', 'grpc_service.proto', 'tensorflow/core/framework/tensor.proto', 'tensorflow/core/framework/tensor_shape.proto', 'tensorflow/core/framework/types.proto'];
    await run(py.bin, ['-m', 'grpc_tools.protoc', '-I', protoDir, `--python_out=${dir}`, `--grpc_python_out=${dir}`, ...files]);
    return { python: py.bin, dir };
  })();
  return stubs;
}

export type Step = Record<string, unknown> & { id: string; call: string };

export async function pythonGrpc(target: string, steps: Step[]): Promise<Record<string, any>> {
  const { python, dir } = await compileStubs();
  return runPythonClient(python, CLIENT, dir, target, steps);
}

/** Runs a Python client `script` (argv: stubs folder, target; the steps as JSON on stdin) and parses its JSON answer. */
export async function runPythonClient(python: string, script: string, dir: string, target: string, steps: unknown[]): Promise<Record<string, any>> {
  const child = execFile(python, ['-c', script, dir, target], { maxBuffer: 256 << 20, timeout: 240_000 });
  child.stdin!.end(JSON.stringify(steps));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`python grpc client failed (${code}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}
