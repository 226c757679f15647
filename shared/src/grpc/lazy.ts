/**
 * The gRPC port without grpc-js on the start path: a plain TCP listener binds at start (so the port is truthful at
 * once), and grpc-js, the .proto files and the services load on the first connection or shortly after the model is
 * ready, whichever comes first. Connections that arrive before then wait, paused, and are handed to grpc-js once it is
 * up (grpc-js's connection injector), so a client sees a slower first answer, never a refused connection. Loading
 * them costs ~25% of a cached native start's CPU; off the path, the first HTTP answer comes that much sooner.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { ServerContext } from '../context.js';
import type { GrpcServer } from './server.js';

/** After the model is ready, how long gRPC waits for a connection before loading anyway. */
const LOAD_AFTER_READY_MS = 500;

export interface LazyGrpcServer {
  bind(host: string, port: number): Promise<number>;
  /** Health follows the model's readiness; the first SERVING also schedules loading. */
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
      else if (s) setTimeout(() => void load(), LOAD_AFTER_READY_MS).unref();
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
