/**
 * `run`'s records without an allocation per call beyond the promise: one promise executor
 * for every call, records reused once settled, and the backlog of runs waiting for ring
 * room with, on the encoded path, their descriptors beside them. Private to `src/queue/`.
 *
 * @module
 */
import type { UserDriver } from "../drivers/driver.ts";
import type { RunEntry } from "./_waiters.ts";
import { QueueFullError, RUN_ID_BASE } from "./types.ts";

/** How many settled records are kept for reuse. */
const POOL_MAX = 1024;

let takenResolve: ((c: never) => void) | undefined;
let takenReject: ((e: unknown) => void) | undefined;
function take(resolve: (c: never) => void, reject: (e: unknown) => void): void {
  takenResolve = resolve;
  takenReject = reject;
}
const ignore = (): void => {};

/**
 * A new promise; its resolving functions go to the record {@link RunPool.make} makes
 * next, at once (one shared executor hands them over, so no closure is made per promise).
 */
export function newPromise<T>(): Promise<T> {
  return new Promise<T>(take);
}

/** Checks a request the way the driver will at flush, without sending it (a driver with `encode`). */
export function validateRequest<Req>(driver: UserDriver<unknown, Req, unknown>, request: Req, scratch: { words?: Uint32Array }): void {
  if (driver.encode === undefined || driver.descriptorWords === undefined) return; // checked by submit at flush
  scratch.words ??= new Uint32Array(driver.descriptorWords);
  driver.encode(request, scratch.words, 0);
}

/** Refuses what `run` cannot take: a request that is not an object, or that has an id. */
export function checkRunRequest(request: unknown): void {
  if (request === null || typeof request !== "object") {
    throw new TypeError(`Cannot run request ${JSON.stringify(request)}: it must be an object`);
  }
  const id = (request as { id?: unknown }).id;
  if (id !== undefined) throw new TypeError(`Cannot run a request with id ${JSON.stringify(id)}: run assigns ids; leave id out (or use send)`);
}

/** Rejects the promise {@link newPromise} made last, for a run refused before its record was made. */
export function rejectNew(e: unknown): void {
  const reject = takenReject as (e: unknown) => void;
  takenResolve = takenReject = undefined;
  reject(e);
}

/**
 * Sends runs as request objects, for a driver without the encoded path: all at once, or,
 * when the driver throws, one by one to find the one it refuses. Returns how many went
 * (the first `sent`), and the refused entry and why, if one was.
 */
export function submitObjects<Req, Cpl>(
  driver: UserDriver<unknown, Req, Cpl>,
  handle: unknown,
  batch: readonly RunEntry<Req, Cpl>[],
): { readonly sent: number; readonly refused?: RunEntry<Req, Cpl>; readonly error?: unknown } {
  try {
    return { sent: driver.submit(handle, batch.map((e) => e.request as Req)) };
  } catch {
    let sent = 0;
    for (const e of batch) {
      try {
        if (driver.submit(handle, [e.request as Req]) !== 1) break;
        sent++;
      } catch (error) {
        return { sent, refused: e, error };
      }
    }
    return { sent };
  }
}

/** The last run id; ids go from `RUN_ID_BASE` to it and wrap. */
const RUN_ID_LAST = 0xfffffffe;

/** `run`'s ids, in turn, skipping those still taken. */
export class RunIds {
  #next = RUN_ID_BASE;

  /** The next id that `taken` says is free. @throws {QueueFullError} when every id is taken. */
  take(taken: (id: number) => boolean, label: string): number {
    for (let tries = 0; tries <= RUN_ID_LAST - RUN_ID_BASE; tries++) {
      const id = this.#next;
      this.#next = id >= RUN_ID_LAST ? RUN_ID_BASE : id + 1;
      if (!taken(id)) return id;
    }
    throw new QueueFullError(`Cannot run a request on ${label}: every run id is in use`);
  }
}

/** Settled records kept for reuse; a record with a timer or signal is never reused. */
export class RunPool<Req, Cpl> {
  #free: RunEntry<Req, Cpl>[] = [];

  /** A record for a run whose promise {@link newPromise} just made. */
  make(id: number, request: Req | undefined, signal: AbortSignal | undefined, untimed: boolean): RunEntry<Req, Cpl> {
    const resolve = takenResolve as (c: Cpl) => void;
    const reject = takenReject as (e: unknown) => void;
    takenResolve = takenReject = undefined;
    const reusable = untimed && signal === undefined;
    const e = reusable ? this.#free.pop() : undefined;
    if (e === undefined) return { id, request, resolve, reject, timer: undefined, signal, onAbort: undefined, sent: false, reusable };
    e.id = id;
    e.request = request;
    e.resolve = resolve;
    e.reject = reject;
    e.sent = false;
    return e;
  }

  /** Resolves a run with its completion and keeps its record where it may be reused. */
  settle(e: RunEntry<Req, Cpl>, c: Cpl): void {
    const resolve = e.resolve;
    if (e.reusable) {
      e.request = undefined;
      e.resolve = e.reject = ignore;
      if (this.#free.length < POOL_MAX) this.#free.push(e);
    }
    resolve(c);
  }

  clear(): void {
    this.#free.length = 0;
  }
}

/**
 * `run` requests not yet on the ring, in order from `head`; on the encoded path the
 * descriptor of entry `i` is at word `i * descriptorWords` of `words`.
 */
export class Backlog<Req, Cpl> {
  entries: RunEntry<Req, Cpl>[] = [];
  head = 0;
  words: Uint32Array | undefined;
  readonly #dw: number;

  /** `descriptorWords` on the encoded path, 0 otherwise. */
  constructor(descriptorWords: number) {
    this.#dw = descriptorWords;
    if (descriptorWords > 0) this.words = new Uint32Array(64 * descriptorWords);
  }

  /** How many wait. */
  get waiting(): number {
    return this.entries.length - this.head;
  }

  /** The word where the next entry's descriptor goes, with room made for it. */
  nextAt(): number {
    const at = this.entries.length * this.#dw;
    const words = this.words as Uint32Array;
    if (words.length < at + this.#dw) {
      let size = words.length * 2;
      while (size < at + this.#dw) size *= 2;
      const bigger = new Uint32Array(size);
      bigger.set(words);
      this.words = bigger;
    }
    return at;
  }

  /** Removes entry `i`, and its descriptor. */
  drop(i: number): void {
    this.words?.copyWithin(i * this.#dw, (i + 1) * this.#dw, this.entries.length * this.#dw);
    this.entries.splice(i, 1);
  }

  /** The first `n` waiting went to the ring. */
  advance(n: number): void {
    this.head += n;
    if (this.head === this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.words?.copyWithin(0, this.head * this.#dw, this.entries.length * this.#dw);
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Empties it; returns what waited. */
  clear(): RunEntry<Req, Cpl>[] {
    const waiting = this.entries.slice(this.head);
    this.entries = [];
    this.head = 0;
    return waiting;
  }
}
