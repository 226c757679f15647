// Child-process entry for s3rver: `node --openssl-legacy-provider s3rver-main.js <dir> <bucket>...`.
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider;
// without the flag every list that needs a second page fails with InternalError. Running it apart also keeps
// its work off the test process. It prints {"port":N} once listening and exits when stdin closes.
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
const stop = () => {
  server.httpServer?.closeAllConnections();
  server.close().finally(() => process.exit(0));
};
process.stdin.on('end', stop).resume();
process.on('SIGTERM', stop);
