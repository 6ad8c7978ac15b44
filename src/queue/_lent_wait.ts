/**
 * The sleeps of a lent ring (`LentRing.readable`, `LentRing.readableSync`): once a look
 * and the spin found nothing, arm the interrupt, look again, sleep on the device's signal
 * (or on timers that back off when it has none), look again. Private to `src/queue/`.
 *
 * @module
 */
import { TimeoutError } from "../sys/error.ts";
import type { Readiness } from "./port.ts";
import type { QueueWaitOptions } from "./types.ts";
import { sleepUnlessAborted } from "./_waiters.ts";

/** The longest sleep between looks at the ring when the device has no interrupt (ms). */
const POLL_MAX_MS = 10;

/** What a sleep needs of its ring. */
export interface WaitSide {
  /** The ring's look: how many completions are ready (giving back consumed slots first). */
  ready(): number;
  /** Arms the interrupt once (after the ring's liveness check). */
  arm(): void;
  /** What signals completions, or undefined to poll with timers. */
  readonly irq: Readiness | undefined;
  /** The queue's mediated device, for messages. */
  readonly label: string;
}

/** The sleep between looks when nothing signals: a few turns of the event loop, then up to POLL_MAX_MS. */
function backoff(idle: number): number {
  return idle < 4 ? 0 : Math.min(POLL_MAX_MS, 2 ** (idle - 4));
}

/** The error of a wait that timed out. */
function timedOut(w: WaitSide, timeout: number): TimeoutError {
  return new TimeoutError(`wait for completions on the ring of ${w.label}`, timeout);
}

/**
 * Sleeps in the reactor until a look finds completions; `ac` is the wait's own controller
 * (aborted by the caller's signal, the timeout, or the loan's end). Returns how many.
 */
export async function sleepReadable(w: WaitSide, options: QueueWaitOptions, ac: AbortController): Promise<number> {
  const { timeout, signal } = options;
  const onAbort = (): void => ac.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = timeout === undefined || timeout === Infinity ? undefined : setTimeout(() => ac.abort(timedOut(w, timeout)), timeout);
  try {
    for (let idle = 0;; idle++) {
      const irq = w.irq;
      let n: number;
      if (irq !== undefined) {
        w.arm();
        // Look again after arming: a completion before the arming is seen here, one after it signals.
        if ((n = w.ready()) > 0) return n;
        try {
          await irq.wait({ signal: ac.signal });
        } catch (e) {
          if (!ac.signal.aborted) throw e;
        }
      } else {
        await sleepUnlessAborted(backoff(idle), ac.signal);
      }
      if (ac.signal.aborted) throw ac.signal.reason;
      if ((n = w.ready()) > 0) return n;
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** A shared word no one notifies, for a timed sleep of the thread (Atomics.wait). */
const NEVER = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread until a look finds completions: poll(2) on the device's signal when it
 * can be waited for so (`Readiness.waitSync`), else timed sleeps of the thread that back
 * off. Returns how many.
 */
export function sleepReadableSync(w: WaitSide, timeout: number | undefined): number {
  const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
  for (let idle = 0;; idle++) {
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(w, timeout!);
    const irq = w.irq;
    let n: number;
    if (irq?.waitSync !== undefined) {
      w.arm();
      if ((n = w.ready()) > 0) return n;
      try {
        irq.waitSync(left === Infinity ? {} : { timeout: left });
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
      }
    } else {
      Atomics.wait(NEVER, 0, 0, Math.min(left, Math.max(backoff(idle), 0.05)));
    }
    if ((n = w.ready()) > 0) return n;
  }
}
