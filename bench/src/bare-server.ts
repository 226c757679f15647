// The ceiling for any Node server here: node:http answering a fixed ~150-byte JSON, nothing else.
import http from 'node:http';

const body = JSON.stringify({ data: { names: ['t:0', 't:1', 't:2'], ndarray: [[0.9815846522037225, 0.018415333299454474, 1.4496823031003109e-8]] }, meta: {} });
const port = Number(process.argv[2] ?? 0);
http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
  })
  .listen(port, '127.0.0.1', function (this: http.Server) {
    const addr = this.address();
    process.stderr.write(`HTTP on :${typeof addr === 'object' && addr ? addr.port : port}, metrics on :0\n`);
  });
