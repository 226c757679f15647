/**
 * A full garbage collection soon after a large request. V8 frees a large ArrayBuffer (a request body, a decoded
 * tensor) only when the object holding it is collected, and after a burst of large requests an idle server may not
 * collect for minutes: measured, a 2.4 M-row Seldon request left RSS ~190 MiB above idle 20 s later; with this, back
 * within ~30 MiB. Called for large work only, once 0.5 s after the last of a burst, so small requests never pay it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Work of at least this many bytes schedules a collection. */
export const IDLE_GC_BYTES = 8 << 20;
const DELAY_MS = 500;

let gc: (() => void) | undefined | null;
let timer: NodeJS.Timeout | undefined;

function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      // Node exposes gc() only with --expose-gc; the flag set at run time makes a fresh context carry it.
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Schedules one full collection DELAY_MS after the last large request (`bytes` it handled). */
export function collectSoon(bytes: number): void {
  if (bytes < IDLE_GC_BYTES || process.env.MODELFLEET_IDLE_GC === '0') return;
  const run = collector();
  if (!run) return;
  if (timer) timer.refresh();
  else {
    timer = setTimeout(() => {
      timer = undefined;
      run();
    }, DELAY_MS);
    timer.unref();
  }
}

/**
 * After a large body is decoded: one full collection before the model runs, so the body's bytes (and, for JSON,
 * its parse garbage) are freed before the answer is built rather than counted with it at the peak. The awaited
 * turn lets the caller's frame drop the body first. Callers check the size (bodies of IDLE_GC_BYTES and more) so
 * small requests do not pay the await. Costs ~10-30 ms once per large request (seconds of work).
 */
export async function releaseBody(): Promise<void> {
  if (process.env.MODELFLEET_IDLE_GC === '0') return;
  const run = collector();
  if (!run) return;
  await new Promise((r) => setImmediate(r));
  run();
}
