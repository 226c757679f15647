// The alternative Python bridge: pythonia (JSPyBridge) serving a language-wrapper class over Seldon REST, to compare
// with modelfleet's framed pipe in the same run. One eval per request (predict, tolist, json.dumps in Python), the
// cheapest way pythonia offers to get an array back. Usage: pythonia-server.js <dir> <Class>.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pythonia from 'pythonia';

const { python, py } = pythonia as unknown as { python: any; py: any };
const [dir, cls] = process.argv.slice(2);
const json = await python('json');
const mod = await python(path.resolve(dir, `${cls}.py`));
const model = await mod[cls]();

http
  .createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      try {
        const X = JSON.parse(body).data.ndarray;
        const out: string = await py`${json}.dumps(${model}.predict(${X}, None).tolist())`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"data":{"names":[],"ndarray":${out}},"meta":{}}`);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ status: { code: 500, info: String((err as Error).message ?? err), status: 'FAILURE' } }));
      }
    });
  })
  .listen(0, '127.0.0.1', function (this: http.Server) {
    process.stderr.write(`HTTP on :${(this.address() as AddressInfo).port}, metrics on :0\n`);
  });
