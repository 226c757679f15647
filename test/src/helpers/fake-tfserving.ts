import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Stands in for TF Serving, which cannot be installed here: the documented REST predict API
 * (tensorflow.org/tfx/serving/api_rest) for one model whose serving_default signature takes `x` (DT_FLOAT
 * [-1, 3]) and answers `total` = 2 * sum(row) (DT_FLOAT [-1]) and `argmax` (DT_INT64 [-1]). Row format
 * ({"instances"}) answers {"predictions"}, columnar ({"inputs"}) answers {"outputs"}; errors are TF's
 * {"error": "..."} bodies with its statuses. Every request body is recorded.
 */
export interface FakeTfServing {
  url: string;
  port: number;
  requests: Array<{ method: string; path: string; body: any }>;
  close(): Promise<void>;
}

const SIGNATURE = {
  inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '3' }] }, name: 'serving_default_x:0' } },
  outputs: {
    total: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }] }, name: 'StatefulPartitionedCall:0' },
    argmax: { dtype: 'DT_INT64', tensor_shape: { dim: [{ size: '-1' }] }, name: 'StatefulPartitionedCall:1' },
  },
  method_name: 'tensorflow/serving/predict',
};

class TfError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function compute(rows: unknown): { total: number[]; argmax: number[] } {
  if (!Array.isArray(rows)) throw new TfError(400, 'JSON Value: ' + JSON.stringify(rows) + ' Type: Number is not of expected type: array');
  const total: number[] = [];
  const argmax: number[] = [];
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== 3 || row.some((v) => typeof v !== 'number')) {
      throw new TfError(400, `Matrix size-incompatible: In[0]: [1,${Array.isArray(row) ? row.length : 1}], In[1]: [3,1]`);
    }
    total.push(Math.fround(2 * (row[0] + row[1] + row[2])));
    argmax.push(row.indexOf(Math.max(...row)));
  }
  return { total, argmax };
}

export async function startFakeTfServing(modelName: string, port = 0): Promise<FakeTfServing> {
  const requests: FakeTfServing['requests'] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      try {
        const m = /^\/v1\/models\/([^/:]+)(?:\/versions\/\d+)?(\/metadata|:predict)?$/.exec(req.url ?? '');
        if (!m) throw new TfError(404, `Malformed request: ${req.method} ${req.url}`);
        if (m[1] !== modelName) throw new TfError(404, `Servable not found for request: Latest(${m[1]})`);
        if (req.method === 'GET' && m[2] === '/metadata') {
          return send(200, { model_spec: { name: modelName, version: '1' }, metadata: { signature_def: { signature_def: { serving_default: SIGNATURE } } } });
        }
        if (req.method !== 'POST' || m[2] !== ':predict') throw new TfError(404, `Malformed request: ${req.method} ${req.url}`);
        let body: any;
        try {
          body = JSON.parse(raw);
        } catch {
          throw new TfError(400, 'JSON Parse error: Invalid value. at offset: 0');
        }
        requests.push({ method: req.method, path: req.url!, body });
        const sig = body.signature_name ?? 'serving_default';
        if (sig !== 'serving_default') throw new TfError(400, `Serving signature name: "${sig}" not found in signature def`);
        if (body.instances !== undefined) {
          const rows = Array.isArray(body.instances) ? body.instances.map((i: any) => (i && typeof i === 'object' && !Array.isArray(i) ? i.x : i)) : body.instances;
          const { total, argmax } = compute(rows);
          return send(200, { predictions: total.map((t, i) => ({ total: t, argmax: argmax[i] })) });
        }
        if (body.inputs !== undefined) {
          const x = body.inputs && typeof body.inputs === 'object' && !Array.isArray(body.inputs) ? body.inputs.x : body.inputs;
          return send(200, { outputs: compute(x) });
        }
        throw new TfError(400, 'Missing \'inputs\' or \'instances\' key');
      } catch (err) {
        if (err instanceof TfError) return send(err.status, { error: err.message });
        return send(500, { error: String(err) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
