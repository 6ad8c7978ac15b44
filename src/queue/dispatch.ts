/**
 * The engine behind a queue's `wait`, `run`, `poll` and `completions`: the one reaper
 * (reap, spin a little, arm the interrupt, re-check, sleep in the reactor, or poll with
 * timers that back off when the device has no interrupt), the completions waiting to be
 * taken, and `run`'s backlog, in-flight table and ids. `Queue` owns one per queue and keeps
 * the public API, the ring's send paths, DMA and release.
 *
 * @module
 */
import type { UserDriver } from "../drivers/driver.ts";
import { TimeoutError } from "../sys/error.ts";
import { QueueFullError, type QueueWaitOptions, RUN_ID_BASE, type RunRequest } from "./types.ts";
import { checkWaitOptions, type Consumer, type DispatchParts, hook, nextTurn, NO_OPTIONS, type RunEntry, sleepUnlessAborted, unhook } from "./_waiters.ts";
import { Backlog, checkRunRequest, newPromise, rejectNew, RunIds, RunPool, submitObjects, validateRequest } from "./_runs.ts";
import { type EncodedPath, encodedPathOf, Pending, RunTable } from "./_store.ts";
import type { Readiness } from "./port.ts";

/** Why the reaper's sleep ends early: made once, since an abort reason is never shown. */
const STOP_SLEEP: unique symbol = Symbol("stop sleeping");
/** The longest sleep between looks at the ring when the device has no interrupt (ms). */
const POLL_MAX_MS = 10;
/** The longest the reaper goes on in microtasks before it yields a turn of the event loop (ms). */
const TURN_MS = 1;

/**
 * Completions and waits of one queue (see the module's text). Not public: `Queue` checks
 * its own state before every call and closes this first on release.
 */
export class Dispatcher<Req, Cpl> {
  #driver: UserDriver<unknown, Req, Cpl>;
  #handle: unknown;
  #irq: Readiness | undefined;
  #spinMs: number;
  #backlogLimit: number;
  #label: string;
  #closedError: (action: string) => Error;
  #closed = false;
  /**
   * The driver's whole encoded path, when it has it: then `run` keeps descriptors instead
   * of request objects, and reaped completions stay words until taken as objects.
   */
  #enc: EncodedPath<Cpl> | undefined;
  /** Completions reaped and not yet taken by poll, wait or completions (ids not run's). */
  #pending: Pending<Cpl>;
  /** Where the encoded path reaps into, reused. */
  #reaped: Uint32Array | undefined;
  #reapMax = 256;
  /** `run` requests not yet on the ring. */
  #backlog: Backlog<Req, Cpl>;
  #flushScheduled = false;
  #flushTask = (): void => this.#flush();
  /** `run` requests on the ring, by id. */
  #inflight = new RunTable<RunEntry<Req, Cpl>>();
  /** Ids of `run` requests given up (aborted, timed out) after they reached the device. */
  #dropped = new Set<number>();
  #ids = new RunIds();
  /** Whether a run id is taken: on the ring, or given up while on it. */
  #idTaken = (id: number): boolean => this.#inflight.get(id) !== undefined || (this.#dropped.size > 0 && this.#dropped.has(id));
  #consumers: Consumer<Cpl>[] = [];
  #pool = new RunPool<Req, Cpl>();
  #pumping = false;
  /** Whether the reaper awaits one microtask and flushes the backlog when it resumes (`run` then queues no flush). */
  #pumpFlushes = false;
  /** The controller of the reaper's sleep while it sleeps (aborting it ends the sleep). */
  #sleep: AbortController | undefined;
  /** The controller the next sleep uses: one for every sleep until one is aborted. */
  #sleepCtl = new AbortController();
  #scratch: { words?: Uint32Array } = {};

  constructor(parts: DispatchParts<Req, Cpl>) {
    this.#driver = parts.driver;
    this.#handle = parts.handle;
    this.#irq = parts.irq;
    this.#spinMs = parts.spinMs;
    this.#backlogLimit = parts.backlog;
    this.#label = parts.label;
    this.#closedError = parts.closedError;
    const enc = (this.#enc = encodedPathOf(parts.driver));
    if (enc !== undefined) this.#reaped = new Uint32Array(this.#reapMax * enc.completionWords);
    this.#pending = new Pending<Cpl>(enc);
    this.#backlog = new Backlog<Req, Cpl>(enc?.descriptorWords ?? 0);
  }

  /** The size of a completion in words when completions can be taken as words (`pollEncoded`), else undefined. */
  get completionWords(): number | undefined {
    return this.#enc?.completionWords;
  }

  /** Whether waits sleep on the completion interrupt (false: they poll with timers). */
  get interrupts(): boolean {
    return this.#irq !== undefined;
  }
  /** Whether the ring carries only its own traffic: nothing reaped and kept, no run on the ring, waiting for room or given up, no wait()er to serve first. */
  alone(): boolean {
    return this.#pending.length === 0 && this.#inflight.size === 0 && this.#backlog.waiting === 0 && this.#dropped.size === 0 && this.#consumers.length === 0;
  }

  /** Up to `max` completions of the ring (not run's), reaping first when fewer are waiting. */
  poll(max: number): Cpl[] {
    // Only the ring's own traffic: the driver's objects straight off the ring.
    if (this.alone()) return this.#driver.poll(this.#handle, max);
    if (this.#pending.length < max) this.#reap();
    return this.#pending.takeMany(max);
  }

  /** Up to `max` completions (not run's) as words into `words`, reaping first when fewer are waiting (encoded path). */
  pollEncoded(words: Uint32Array, max: number): number {
    // As in poll: only the ring's own traffic, the device's words straight into the caller's.
    if (this.alone()) return this.#driver.pollEncoded!(this.#handle, words, 0, max);
    if (this.#pending.length < max) this.#reap();
    return this.#pending.takeWords(words, max);
  }

  /**
   * Stops for good: every pending `run` and wait rejects with `reason`, the sleep ends,
   * nothing reaped is kept, and the interrupt is forgotten (the queue closes it).
   */
  close(reason: unknown): void {
    this.#closed = true;
    this.#failAll(reason);
    this.#sleep?.abort(STOP_SLEEP);
    this.#pending.clear();
    this.#dropped.clear();
    this.#irq = undefined;
  }

  wait(options: QueueWaitOptions = NO_OPTIONS): Promise<Cpl> {
    try {
      if (this.#closed) throw this.#closedError("wait for a completion");
      checkWaitOptions("wait for a completion", options);
      options.signal?.throwIfAborted();
      if (this.#pending.length === 0) this.#reap();
      if (this.#pending.length > 0) return Promise.resolve(this.#pending.take());
      if (options.timeout === 0) throw new TimeoutError(`wait for a completion from ${this.#label}`, 0);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#waitLater(options);
  }

  /** A wait that found nothing: a consumer the reaper serves (its closures kept out of `wait`'s fast path). */
  #waitLater(options: QueueWaitOptions): Promise<Cpl> {
    const { timeout, signal } = options;
    return new Promise<Cpl>((resolve, reject) => {
      const c: Consumer<Cpl> = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      const drop = (e: unknown): void => {
        const i = this.#consumers.indexOf(c);
        if (i < 0) return;
        this.#consumers.splice(i, 1);
        unhook(c);
        this.#demandChanged();
        reject(e);
      };
      hook(c, timeout, () => drop(new TimeoutError(`wait for a completion from ${this.#label}`, timeout as number)), () => drop(signal?.reason));
      this.#consumers.push(c);
      this.#startPump();
    });
  }

  run(request: RunRequest<Req>, options: QueueWaitOptions = NO_OPTIONS): Promise<Cpl> {
    const promise = newPromise<Cpl>();
    let entry: RunEntry<Req, Cpl>;
    try {
      if (this.#closed) throw this.#closedError("run a request");
      checkWaitOptions("run a request", options);
      options.signal?.throwIfAborted();
      if (options.timeout === 0) throw new TimeoutError(`run a request on ${this.#label}`, 0);
      checkRunRequest(request);
      if (this.#backlog.waiting >= this.#backlogLimit) {
        throw new QueueFullError(`Cannot run a request on ${this.#label}: ${this.#backlogLimit} requests already wait for ring room (the backlog option bounds them)`);
      }
      const id = this.#ids.take(this.#idTaken, this.#label);
      let full: Req | undefined;
      const enc = this.#enc;
      if (enc !== undefined) {
        // Encoded where it waits: the descriptor is what goes to the ring, no copy of the request.
        const at = this.#backlog.nextAt();
        const words = this.#backlog.words as Uint32Array;
        this.#driver.encode!(request as Req, words, at);
        words[at + enc.idWord] = id;
      } else {
        full = { ...request, id } as Req;
        validateRequest(this.#driver, full, this.#scratch);
      }
      entry = this.#pool.make(id, full, options.signal, options.timeout === undefined || options.timeout === Infinity);
    } catch (e) {
      rejectNew(e);
      return promise;
    }
    if (!entry.reusable) this.#watch(entry, options.timeout);
    this.#backlog.entries.push(entry);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // The reaper between two microtasks flushes when it resumes; otherwise a microtask does.
      if (!this.#pumpFlushes) queueMicrotask(this.#flushTask);
    }
    return promise;
  }

  /** Starts a run's timer and abort listener. */
  #watch(e: RunEntry<Req, Cpl>, timeout: number | undefined): void {
    const timedOut = () => this.#giveUp(e, new TimeoutError(`run request ${e.id} on ${this.#label}`, timeout as number));
    hook(e, timeout, timedOut, () => this.#giveUp(e, e.signal?.reason));
  }

  /** A run aborted or timed out: out of the backlog, or its completion dropped later. */
  #giveUp(e: RunEntry<Req, Cpl>, error: unknown): void {
    if (e.sent) {
      if (this.#inflight.get(e.id) !== e) return;
      this.#inflight.delete(e.id);
      this.#dropped.add(e.id);
    } else {
      const i = this.#backlog.entries.indexOf(e, this.#backlog.head);
      if (i < 0) return;
      this.#backlog.drop(i);
    }
    unhook(e);
    e.reject(error);
    this.#demandChanged();
  }

  /** Sends what the ring takes of the backlog, in order, with one doorbell. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const backlog = this.#backlog;
    const head = backlog.head;
    if (backlog.waiting === 0) return;
    // Encoded path: checked when each was encoded, the descriptors go as they are.
    const r = this.#enc !== undefined ? undefined : submitObjects(this.#driver, this.#handle, backlog.entries.slice(head));
    const n = r !== undefined ? r.sent : this.#driver.submitEncoded!(this.#handle, backlog.words as Uint32Array, head, backlog.waiting);
    for (let i = 0; i < n; i++) {
      const e = backlog.entries[head + i]!;
      e.sent = true;
      this.#inflight.add(e);
    }
    backlog.advance(n);
    if (r?.refused !== undefined) {
      // Those before it went; the refused one is rejected, and the rest go on.
      backlog.drop(backlog.entries.indexOf(r.refused, backlog.head));
      unhook(r.refused);
      r.refused.reject(r.error);
      this.#flush();
    }
    if (this.#inflight.size > 0 || backlog.waiting > 0) this.#startPump();
  }

  /** A completion with this id: a run's settles its promise (true); a dropped run's is forgotten (true); else false. */
  #routed(id: number, words: Uint32Array | undefined, at: number, c: Cpl | undefined): boolean {
    if (id < RUN_ID_BASE) return false;
    const e = this.#inflight.get(id);
    if (e !== undefined) {
      this.#inflight.delete(id);
      if (!e.reusable) unhook(e);
      this.#pool.settle(e, c ?? this.#driver.decode!(words as Uint32Array, at));
      return true;
    }
    return this.#dropped.size > 0 && this.#dropped.delete(id);
  }

  /** Takes every ready completion off the ring: run's settle their promises, the rest queue for wait/poll. Returns how many. */
  #reap(): number {
    let total = 0;
    const enc = this.#enc;
    if (enc !== undefined) {
      const words = this.#reaped as Uint32Array;
      const pending = this.#pending;
      for (;;) {
        const got = this.#driver.pollEncoded!(this.#handle, words, 0, this.#reapMax);
        for (let i = 0, at = 0; i < got; i++, at += enc.completionWords) {
          if (!this.#routed(words[at + enc.completionIdWord] as number, words, at, undefined)) pending.pushWords(words, at);
        }
        total += got;
        if (got < this.#reapMax) break;
      }
    } else {
      const got = this.#driver.poll(this.#handle, Number.MAX_SAFE_INTEGER);
      for (const c of got) {
        const id = (c as { id?: unknown }).id;
        if (!(typeof id === "number" && this.#routed(id, undefined, 0, c))) this.#pending.pushObject(c);
      }
      total = got.length;
    }
    if (total === 0) return 0;
    while (this.#consumers.length > 0 && this.#pending.length > 0) {
      const c = this.#consumers.shift() as Consumer<Cpl>;
      unhook(c);
      c.resolve(this.#pending.take());
    }
    // Reaping made ring room: the backlog goes on now.
    if (this.#backlog.waiting > 0) this.#flush();
    return total;
  }

  /** Whether anything waits for the device: a run on the ring or waiting for room (room comes from reaping), or a wait()er. */
  #demand(): boolean {
    return !this.#closed && (this.#inflight.size > 0 || this.#consumers.length > 0 || this.#backlog.waiting > 0);
  }

  #demandChanged(): void {
    // Nobody waits any more: end the pump's sleep, so nothing keeps the process alive.
    if (!this.#demand()) this.#sleep?.abort(STOP_SLEEP);
  }

  #startPump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#pump().catch((e: unknown) => this.#failAll(e));
  }

  /**
   * The one reaper of the queue, running while anything waits: reap; spin a little; arm
   * the interrupt, reap once more, and sleep on it in the reactor (or poll with timers).
   */
  async #pump(): Promise<void> {
    try {
      let idleTurns = 0, quick = false, lastTurn = performance.now();
      while (this.#demand()) {
        let got = this.#reap();
        if (got === 0 && this.#spinMs > 0) {
          const until = performance.now() + this.#spinMs;
          while (got === 0 && performance.now() < until) got = this.#reap();
        }
        if (got > 0) {
          idleTurns = 0;
          // The settled runs' continuations run in microtasks, until what they send has gone
          // out; a whole turn of the event loop every TURN_MS, so nothing else starves.
          const now = performance.now();
          if (now - lastTurn < TURN_MS) {
            this.#pumpFlushes = true;
            await undefined;
            this.#pumpFlushes = false;
            if (this.#flushScheduled) this.#flush();
            quick = true;
          } else {
            lastTurn = now;
            await new Promise<void>(nextTurn);
          }
          continue;
        }
        if (quick) {
          quick = false; // nothing yet: a whole turn before sleeping gives the device time
          lastTurn = performance.now();
          await new Promise<void>(nextTurn);
          continue;
        }
        if (!this.#demand()) break;
        if (this.#sleepCtl.signal.aborted) this.#sleepCtl = new AbortController();
        const ac = this.#sleepCtl;
        this.#sleep = ac;
        try {
          if (this.#irq !== undefined) {
            this.#driver.arm?.(this.#handle);
            // Re-check after arming: a completion that came before the arming was seen is
            // reaped here; one after it signals the eventfd.
            if (this.#reap() > 0) continue;
            await this.#irq.wait({ signal: ac.signal });
          } else {
            // No interrupt: poll, yielding the CPU between looks: a few turns at once, then
            // timers backing off to POLL_MAX_MS while the device stays quiet.
            await sleepUnlessAborted(idleTurns < 4 ? 0 : Math.min(POLL_MAX_MS, 2 ** (idleTurns - 4)), ac.signal);
            idleTurns++;
          }
        } catch (e) {
          if (!ac.signal.aborted && !this.#closed) throw e;
        } finally {
          this.#sleep = undefined;
        }
      }
    } finally {
      // Cleared in the same turn as the loop's last look at the demand (no await between):
      // a wait that comes after it starts a new pump; cleared a turn later, that wait could
      // find this pump still marked running though it had stopped, and wait forever.
      this.#pumping = false;
    }
  }

  #failAll(e: unknown): void {
    const consumers = this.#consumers;
    this.#consumers = [];
    for (const r of [...consumers, ...this.#inflight.values(), ...this.#backlog.clear()]) {
      unhook(r);
      r.reject(e);
    }
    this.#inflight.clear();
    this.#pool.clear();
  }
}
