/**
 * The gRPC port without grpc-js until someone uses it: a plain TCP listener binds at start (so the port is truthful at
 * once), and grpc-js, the .proto files and the services load on the first connection. That connection waits, paused,
 * and is handed to grpc-js once it is up (grpc-js's connection injector), so a client sees a slower first answer
 * (~0.1-0.2 s), never a refused connection. Loading them costs ~25% of a cached native start's CPU and ~20 MiB of
 * memory, which a server only ever called over REST never pays.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { ServerContext } from '../context.js';
import type { GrpcServer } from './server.js';

export interface LazyGrpcServer {
  bind(host: string, port: number): Promise<number>;
  /** Health follows the model's readiness (kept until grpc-js loads). */
  setServing(serving: boolean): void;
  shutdown(timeoutMs: number): Promise<void>;
}

export function createLazyGrpcServer(ctx: ServerContext, maxMessageBytes: number): LazyGrpcServer {
  let serving = false;
  let closed = false;
  let waiting: Socket[] = [];
  let inject: ((socket: Socket) => void) | undefined;
  let loading: Promise<GrpcServer | undefined> | undefined;
  const load = () =>
    (loading ??= (async () => {
      const [{ createGrpcServer }, grpc] = await Promise.all([import('./server.js'), import('@grpc/grpc-js')]);
      const server = createGrpcServer(ctx, maxMessageBytes);
      server.setServing(serving);
      const injector = server.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
      inject = (socket) => {
        socket.resume();
        injector.injectConnection(socket);
      };
      for (const s of waiting) if (!s.destroyed) inject(s);
      waiting = [];
      if (closed) await server.shutdown(0);
      return server;
    })().catch((err) => {
      ctx.log.error(`gRPC failed to start: ${(err as Error).message}`);
      for (const s of waiting) s.destroy();
      waiting = [];
      return undefined;
    }));
  const listener = net.createServer({ pauseOnConnect: true }, (socket) => {
    if (inject) return inject(socket);
    waiting.push(socket);
    socket.once('close', () => (waiting = waiting.filter((s) => s !== socket)));
    void load();
  });
  return {
    bind: (host, port) =>
      new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(port, host, () => {
          listener.off('error', reject);
          resolve((listener.address() as net.AddressInfo).port);
        });
      }),
    setServing: (s) => {
      serving = s;
      if (loading) void loading.then((server) => server?.setServing(s));
    },
    shutdown: async (timeoutMs) => {
      closed = true;
      const listening = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const s of waiting) s.destroy();
      waiting = [];
      const server = loading && (await loading);
      await server?.shutdown(timeoutMs);
      await listening;
    },
  };
}
