// The ceiling for gRPC here: grpc-js serving the same protos with a fixed reply per method, nothing else.
// It also answers HTTP 200 on another port so the bench's start probe and PSS reading work as for the others.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO_DIR = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
const options = { keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: false, oneofs: true, arrays: true, includeDirs: [PROTO_DIR] };
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(['prediction.proto', 'grpc_service.proto'], options)) as any;

// What the iris model answers to one row, as each protocol carries it.
const proba = [0.9815846522037225, 0.018415333299454474, 1.4496823031003109e-8];
const seldonReply = { meta: {}, data: { names: ['t:0', 't:1', 't:2'], tensor: { shape: [1, 3], values: proba } } };
const v2Reply = { model_name: 'iris', id: 'fixed', outputs: [{ name: 'predict_proba', datatype: 'FP64', shape: ['1', '3'], contents: { fp64_contents: proba } }] };

const server = new grpc.Server();
server.addService(pkg.seldon.protos.Model.service, { Predict: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, seldonReply) });
server.addService(pkg.inference.GRPCInferenceService.service, {
  ModelInfer: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, v2Reply),
  ModelStreamInfer: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    call.on('data', () => call.write({ error_message: '', infer_response: v2Reply }));
    call.on('end', () => call.end());
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
  if (err) throw err;
  const probe = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  probe.listen(0, '127.0.0.1', () => {
    process.stderr.write(`HTTP on :${(probe.address() as AddressInfo).port}, gRPC on :${grpcPort}, metrics on :0\n`);
  });
});
