import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEvent } from 'cloudevents';

export interface Received {
  headers: Record<string, string>;
  body: Buffer;
  /** Decoded with the official `cloudevents` package's HTTP binding and validated strictly by it. */
  event: CloudEvent<unknown>;
}

export interface EventSink {
  url: string;
  received: Received[];
  /** Posts seen, including the ones answered with an error. */
  attempts: number;
  /** Resolves when `pred` holds over the received events (polls; fails after timeoutMs). */
  waitFor(pred: (r: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * A CloudEvents receiver on loopback, standing in for Seldon's request logger / a Knative broker (none runs here):
 * every POST is decoded with the `cloudevents` SDK, so what our servers send must be what that SDK reads.
 * `answer(n)` picks the status of the n-th post (0-based), for retry tests.
 */
export async function startEventSink(answer: (n: number) => number = () => 200): Promise<EventSink> {
  const received: Received[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer(attempts++);
      if (status === 200) {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const body = Buffer.concat(chunks);
        const event = HTTP.toEvent({ headers, body }) as CloudEvent<unknown>;
        event.validate();
        received.push({ headers, body, event });
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    received,
    get attempts() {
      return attempts;
    },
    async waitFor(pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(received)) {
        if (Date.now() > deadline) throw new Error(`events not received in ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => r.headers))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
