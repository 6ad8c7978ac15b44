/**
 * What the queue's dispatcher serves, the records it keeps for what waits on it, and the
 * check of a wait's options. Private to `src/queue/`.
 *
 * @module
 */
import { setImmediate as immediate } from "node:timers";
import type { UserDriver } from "../drivers/driver.ts";
import type { Readiness } from "./port.ts";
import type { QueueWaitOptions } from "./types.ts";

/** The options of a call that gave none, one object for every such call. */
export const NO_OPTIONS: QueueWaitOptions = {};

/** A yield to the event loop's next turn, one executor for every turn. */
export function nextTurn(resolve: () => void): void {
  immediate(resolve);
}

/** What a dispatcher serves: the driver and its queue state, and how to wait. */
export interface DispatchParts<Req, Cpl> {
  readonly driver: UserDriver<unknown, Req, Cpl>;
  readonly handle: unknown;
  /** What signals completions (the interrupt's eventfd, a device fd's readiness), or undefined to poll. */
  readonly irq: Readiness | undefined;
  /** How long a wait spins before it sleeps, in milliseconds. */
  readonly spinMs: number;
  /** How many `run` requests may wait for ring room. */
  readonly backlog: number;
  /** The queue's mediated device, for messages. */
  readonly label: string;
  /** The error for a call after close, as the queue words it. */
  readonly closedError: (action: string) => Error;
}

/** A `run` request from its call to its completion. */
export interface RunEntry<Req, Cpl> {
  id: number;
  /** The request with its id, for a driver without the encoded path (its descriptor is kept instead otherwise). */
  request: Req | undefined;
  resolve: (c: Cpl) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  sent: boolean;
  /** Whether the entry may be reused once settled: it never had a timer or a signal that could still refer to it. */
  reusable: boolean;
}

/** A `wait()` waiting for the next completion of the ring. */
export interface Consumer<Cpl> {
  readonly resolve: (c: Cpl) => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Refuses a timeout that is not a non-negative number of milliseconds. */
export function checkWaitOptions(what: string, options: QueueWaitOptions): void {
  const t = options.timeout;
  if (t !== undefined && !(typeof t === "number" && t >= 0)) {
    throw new RangeError(`Cannot ${what} with timeout ${JSON.stringify(t)}: it must be a non-negative number of milliseconds`);
  }
}

/** What has a timer and an abort listener to start and stop: a run or a wait. */
interface Hooked {
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Starts `x`'s timer (unless `timeout` is absent or infinite) and its signal's abort listener. */
export function hook(x: Hooked, timeout: number | undefined, timedOut: () => void, aborted: () => void): void {
  if (timeout !== undefined && timeout !== Infinity) x.timer = setTimeout(timedOut, timeout);
  if (x.signal !== undefined) {
    x.onAbort = aborted;
    x.signal.addEventListener("abort", aborted, { once: true });
  }
}

/** Stops `x`'s timer and abort listener. */
export function unhook(x: Hooked): void {
  if (x.timer !== undefined) clearTimeout(x.timer);
  if (x.onAbort !== undefined) x.signal?.removeEventListener("abort", x.onAbort);
  x.timer = undefined;
  x.onAbort = undefined;
}

/**
 * Sleeps `ms` milliseconds, or until `signal` aborts (then it resolves too). Its abort
 * listener goes when the sleep ends either way, so one signal may serve many sleeps.
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const aborted = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", aborted);
      resolve();
    }, ms);
    signal.addEventListener("abort", aborted, { once: true });
  });
}

/** The completions `source.wait` gives, as they come; ends when it is closed, throws the signal's reason. */
export async function* completionsOf<Cpl>(
  source: { closed(): boolean; wait(options: QueueWaitOptions): Promise<Cpl> },
  signal: AbortSignal | undefined,
): AsyncGenerator<Cpl, void, undefined> {
  for (;;) {
    if (source.closed()) return;
    let c: Cpl;
    try {
      c = await source.wait(signal === undefined ? {} : { signal });
    } catch (e) {
      if (source.closed()) return; // released while waiting
      throw e;
    }
    yield c;
  }
}
