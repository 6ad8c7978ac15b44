/**
 * The engine behind a queue's `wait`, `run`, `poll` and `completions`: the one reaper
 * (reap, spin a little, arm the interrupt, re-check, sleep in the reactor, or poll with
 * timers that back off when the device has no interrupt), the completions waiting to be
 * taken, and `run`'s backlog, in-flight map and ids. `Queue` owns one per queue and keeps
 * the public API, the ring's send paths, DMA and release.
 *
 * @module
 */
import { setImmediate as immediate } from "node:timers";
import type { UserDriver } from "../drivers/driver.ts";
import { TimeoutError } from "../sys/error.ts";
import { QueueFullError, type QueueWaitOptions, RUN_ID_BASE, type RunRequest } from "./types.ts";
import { checkWaitOptions, type Consumer, type RunEntry } from "./_waiters.ts";
import type { Readiness } from "./port.ts";

/** Why the reaper's sleep ends early: made once, since an abort reason is never shown. */
const STOP_SLEEP: unique symbol = Symbol("stop sleeping");
/** The longest sleep between looks at the ring when the device has no interrupt (ms). */
const POLL_MAX_MS = 10;
const RUN_ID_LAST = 0xfffffffe;

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
  /** Completions reaped and not yet taken by poll, wait or completions (ids not run's). */
  #pending: Cpl[] = [];
  /** `run` requests not yet on the ring, in order, from #backlogHead. */
  #backlog: RunEntry<Req, Cpl>[] = [];
  #backlogHead = 0;
  #flushScheduled = false;
  /** `run` requests on the ring, by id. */
  #inflight = new Map<number, RunEntry<Req, Cpl>>();
  /** Ids of `run` requests given up (aborted, timed out) after they reached the device. */
  #dropped = new Set<number>();
  #nextId = RUN_ID_BASE;
  #consumers = new Set<Consumer<Cpl>>();
  #pumping = false;
  #sleep: AbortController | undefined;
  #scratch: Uint32Array | undefined;

  constructor(parts: DispatchParts<Req, Cpl>) {
    this.#driver = parts.driver;
    this.#handle = parts.handle;
    this.#irq = parts.irq;
    this.#spinMs = parts.spinMs;
    this.#backlogLimit = parts.backlog;
    this.#label = parts.label;
    this.#closedError = parts.closedError;
  }

  /** Whether waits sleep on the completion interrupt (false: they poll with timers). */
  get interrupts(): boolean {
    return this.#irq !== undefined;
  }

  /** Up to `max` completions of the ring (not run's), reaping first when fewer are waiting. */
  poll(max: number): Cpl[] {
    if (this.#pending.length < max) this.#reap();
    return this.#pending.splice(0, max);
  }

  /**
   * Stops for good: every pending `run` and wait rejects with `reason`, the sleep ends,
   * nothing reaped is kept, and the interrupt is forgotten (the queue closes it).
   */
  close(reason: unknown): void {
    this.#closed = true;
    this.#failAll(reason);
    this.#sleep?.abort(STOP_SLEEP);
    this.#pending = [];
    this.#dropped.clear();
    this.#irq = undefined;
  }

  wait(options: QueueWaitOptions = {}): Promise<Cpl> {
    try {
      if (this.#closed) throw this.#closedError("wait for a completion");
      checkWaitOptions("wait for a completion", options);
      options.signal?.throwIfAborted();
      if (this.#pending.length === 0) this.#reap();
      if (this.#pending.length > 0) return Promise.resolve(this.#pending.shift() as Cpl);
      if (options.timeout === 0) throw new TimeoutError(`wait for a completion from ${this.#label}`, 0);
    } catch (e) {
      return Promise.reject(e);
    }
    const { timeout, signal } = options;
    return new Promise<Cpl>((resolve, reject) => {
      const c: Consumer<Cpl> = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      const drop = (e: unknown): void => {
        if (!this.#consumers.delete(c)) return;
        this.#unhook(c);
        this.#demandChanged();
        reject(e);
      };
      if (timeout !== undefined && timeout !== Infinity) {
        c.timer = setTimeout(() => drop(new TimeoutError(`wait for a completion from ${this.#label}`, timeout)), timeout);
      }
      if (signal !== undefined) {
        c.onAbort = () => drop(signal.reason);
        signal.addEventListener("abort", c.onAbort, { once: true });
      }
      this.#consumers.add(c);
      this.#startPump();
    });
  }

  run(request: RunRequest<Req>, options: QueueWaitOptions = {}): Promise<Cpl> {
    let entry: RunEntry<Req, Cpl>;
    let settle!: { resolve: (c: Cpl) => void; reject: (e: unknown) => void };
    const promise = new Promise<Cpl>((resolve, reject) => (settle = { resolve, reject }));
    try {
      if (this.#closed) throw this.#closedError("run a request");
      checkWaitOptions("run a request", options);
      options.signal?.throwIfAborted();
      if (options.timeout === 0) throw new TimeoutError(`run a request on ${this.#label}`, 0);
      if (request === null || typeof request !== "object") {
        throw new TypeError(`Cannot run request ${JSON.stringify(request)}: it must be an object`);
      }
      if ((request as { id?: unknown }).id !== undefined) {
        throw new TypeError(`Cannot run a request with id ${JSON.stringify((request as { id?: unknown }).id)}: run assigns ids; leave id out (or use send)`);
      }
      if (this.#backlog.length - this.#backlogHead >= this.#backlogLimit) {
        throw new QueueFullError(`Cannot run a request on ${this.#label}: ${this.#backlogLimit} requests already wait for ring room (the backlog option bounds them)`);
      }
      const full = { ...request, id: this.#takeId() } as Req;
      this.#validate(full);
      entry = { id: (full as { id: number }).id, request: full, ...settle, timer: undefined, signal: options.signal, onAbort: undefined, sent: false };
    } catch (e) {
      settle.reject(e);
      return promise;
    }
    const { timeout, signal } = options;
    if (timeout !== undefined && timeout !== Infinity) {
      entry.timer = setTimeout(() => this.#giveUp(entry, new TimeoutError(`run request ${entry.id} on ${this.#label}`, timeout)), timeout);
    }
    if (signal !== undefined) {
      entry.onAbort = () => this.#giveUp(entry, signal.reason);
      signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    this.#backlog.push(entry);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return promise;
  }

  /** Checks a request the way the driver will, without sending it. */
  #validate(request: Req): void {
    const d = this.#driver;
    if (d.encode === undefined || d.descriptorWords === undefined) return; // checked by submit at flush
    this.#scratch ??= new Uint32Array(d.descriptorWords);
    d.encode(request, this.#scratch, 0);
  }

  #takeId(): number {
    for (let tries = 0; tries <= RUN_ID_LAST - RUN_ID_BASE; tries++) {
      const id = this.#nextId;
      this.#nextId = id >= RUN_ID_LAST ? RUN_ID_BASE : id + 1;
      if (!this.#inflight.has(id) && !this.#dropped.has(id)) return id;
    }
    throw new QueueFullError(`Cannot run a request on ${this.#label}: every run id is in use`);
  }

  #unhook(x: { timer: ReturnType<typeof setTimeout> | undefined; signal: AbortSignal | undefined; onAbort: (() => void) | undefined }): void {
    if (x.timer !== undefined) clearTimeout(x.timer);
    if (x.onAbort !== undefined) x.signal?.removeEventListener("abort", x.onAbort);
    x.timer = undefined;
    x.onAbort = undefined;
  }

  /** A run aborted or timed out: out of the backlog, or its completion dropped later. */
  #giveUp(e: RunEntry<Req, Cpl>, error: unknown): void {
    if (e.sent) {
      if (this.#inflight.get(e.id) !== e) return;
      this.#inflight.delete(e.id);
      this.#dropped.add(e.id);
    } else {
      const i = this.#backlog.indexOf(e, this.#backlogHead);
      if (i < 0) return;
      this.#backlog.splice(i, 1);
    }
    this.#unhook(e);
    e.reject(error);
    this.#demandChanged();
  }

  /** Sends what the ring takes of the backlog, in order, with one doorbell. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const waiting = this.#backlog.length - this.#backlogHead;
    if (waiting === 0) return;
    const batch = this.#backlog.slice(this.#backlogHead);
    let n: number;
    try {
      n = this.#driver.submit(this.#handle, batch.map((e) => e.request));
    } catch {
      // Only a driver without encode() gets here: find the request it refuses, one by one.
      n = 0;
      for (const e of batch) {
        try {
          if (this.#driver.submit(this.#handle, [e.request]) !== 1) break;
          n++;
        } catch (x) {
          this.#backlog.splice(this.#backlog.indexOf(e), 1);
          this.#unhook(e);
          e.reject(x);
          return this.#flush();
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const e = this.#backlog[this.#backlogHead + i]!;
      e.sent = true;
      this.#inflight.set(e.id, e);
    }
    this.#backlogHead += n;
    if (this.#backlogHead === this.#backlog.length) {
      this.#backlog = [];
      this.#backlogHead = 0;
    } else if (this.#backlogHead > 1024) {
      this.#backlog = this.#backlog.slice(this.#backlogHead);
      this.#backlogHead = 0;
    }
    if (this.#inflight.size > 0 || this.#backlogHead < this.#backlog.length) this.#startPump();
  }

  /** Takes every ready completion off the ring: run's settle their promises, the rest queue for wait/poll. Returns how many. */
  #reap(): number {
    const got = this.#driver.poll(this.#handle, Number.MAX_SAFE_INTEGER);
    if (got.length === 0) return 0;
    for (const c of got) {
      const id = (c as { id?: unknown }).id;
      if (typeof id === "number" && id >= RUN_ID_BASE) {
        const e = this.#inflight.get(id);
        if (e !== undefined) {
          this.#inflight.delete(id);
          this.#unhook(e);
          e.resolve(c);
          continue;
        }
        if (this.#dropped.delete(id)) continue;
      }
      this.#pending.push(c);
    }
    for (const c of this.#consumers) {
      if (this.#pending.length === 0) break;
      this.#consumers.delete(c);
      this.#unhook(c);
      c.resolve(this.#pending.shift() as Cpl);
    }
    // Reaping made ring room: the backlog goes on now.
    if (this.#backlog.length > this.#backlogHead) this.#flush();
    return got.length;
  }

  /**
   * Whether anything waits for the device: a run on the ring or waiting for room (room
   * comes from reaping), or a wait()er.
   */
  #demand(): boolean {
    return !this.#closed && (this.#inflight.size > 0 || this.#consumers.size > 0 || this.#backlog.length > this.#backlogHead);
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
      let idleTurns = 0;
      while (this.#demand()) {
        if (this.#reap() > 0) {
          idleTurns = 0;
          // Let the settled promises' continuations (and the rest of the loop) run.
          await new Promise<void>((r) => immediate(r));
          continue;
        }
        if (this.#spinMs > 0) {
          const until = performance.now() + this.#spinMs;
          let got = 0;
          while (got === 0 && performance.now() < until) got = this.#reap();
          if (got > 0) continue;
        }
        if (!this.#demand()) break;
        const ac = new AbortController();
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
            const ms = idleTurns < 4 ? 0 : Math.min(POLL_MAX_MS, 2 ** (idleTurns - 4));
            idleTurns++;
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, ms);
              ac.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
            });
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
    for (const c of [...this.#consumers]) {
      this.#consumers.delete(c);
      this.#unhook(c);
      c.reject(e);
    }
    for (const r of [...this.#inflight.values(), ...this.#backlog.slice(this.#backlogHead)]) {
      this.#unhook(r);
      r.reject(e);
    }
    this.#inflight.clear();
    this.#backlog = [];
    this.#backlogHead = 0;
  }

  /** The ring's completions as they come; ends when closed, throws the signal's reason. */
  async *completions(options: { readonly signal?: AbortSignal }): AsyncGenerator<Cpl, void, undefined> {
    for (;;) {
      if (this.#closed) return;
      let c: Cpl;
      try {
        c = await this.wait(options.signal === undefined ? {} : { signal: options.signal });
      } catch (e) {
        if (this.#closed) return; // released while waiting
        throw e;
      }
      yield c;
    }
  }
}
