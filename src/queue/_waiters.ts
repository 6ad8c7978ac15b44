/**
 * The records the queue's dispatcher keeps for what waits on it, and the check of a
 * wait's options. Private to `src/queue/`.
 *
 * @module
 */
import type { QueueWaitOptions } from "./types.ts";

/** A `run` request from its call to its completion. */
export interface RunEntry<Req, Cpl> {
  readonly id: number;
  readonly request: Req;
  readonly resolve: (c: Cpl) => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  sent: boolean;
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
