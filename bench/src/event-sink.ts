// A live sink for the observability workloads: takes payload events (CloudEvents) and OTLP trace exports, answers
// 200 with an empty body (an empty ExportTraceServiceResponse for OTLP), and does nothing else.
import http from 'node:http';

http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': 0 }).end());
  })
  .listen(0, '127.0.0.1', function (this: http.Server) {
    const addr = this.address();
    process.stderr.write(`HTTP on :${typeof addr === 'object' && addr ? addr.port : 0}, metrics on :0\n`);
  });
