/**
 * A queue of an accelerator, opened by {@link requestQueue}: run requests (a promise
 * each), or send them and reap completions on the ring; allocate DMA buffers; release.
 *
 * Waiting is event-loop native: a wait reaps the ring, spins for a short bounded time,
 * then arms the device's completion interrupt and sleeps in the process's reactor
 * (`src/sys/reactor.ts`). A device without an interrupt is polled with timers that
 * back off, so an idle wait costs no CPU either way.
 *
 * @module
 */
import { setImmediate as immediate } from "node:timers";
import type { UserDriver } from "../drivers/registry.ts";
import { closeAll, TimeoutError } from "../sys/error.ts";
import type { EventFd } from "../sys/eventfd.ts";
import type { DmaBuffer } from "../vfio/dma.ts";
import type { DevicePort, QueueDmaOptions } from "./port.ts";

/** What the queue is, once opened. */
export interface QueueIdentity {
  /** The accelerator's device id (class directory entry). */
  readonly device: string;
  /** The type directory, `<dev_drv>-<algo_type>`. */
  readonly type: string;
  /** The algorithm. */
  readonly alg: string;
  /** The `device_api`, which chose the driver. */
  readonly deviceApi: string;
  /** The mediated device's UUID. */
  readonly mdev: string;
  /** Whether this queue created the mediated device (it is removed again on release). */
  readonly created: boolean;
}

/** Options of {@link Queue.wait}, {@link Queue.run} and {@link Queue.completions}. */
export interface QueueWaitOptions {
  /** Milliseconds before rejecting with `TimeoutError` (`code` `"ETIMEDOUT"`); no limit by default. */
  readonly timeout?: number;
  /** Rejects with `signal.reason` when aborted (at once when it already is). */
  readonly signal?: AbortSignal;
}

/** How a queue waits and queues; {@link requestQueue} takes the same options. */
export interface QueueTuning {
  /**
   * Microseconds a wait spins on the completion ring, after a reap found it empty and
   * before it arms the interrupt and sleeps. It blocks the JS thread that long at most.
   * Default {@link DEFAULT_SPIN_US}.
   */
  readonly spin?: number;
  /**
   * How many `run` requests may wait to be sent (for ring room, or for the end of the
   * current turn), in order; past it `run` rejects with `QueueFullError`. Default
   * {@link DEFAULT_BACKLOG}.
   */
  readonly backlog?: number;
  /** Use the device's completion interrupt when the driver names one (default true); false polls. */
  readonly interrupts?: boolean;
}

/**
 * The default spin of a wait, in microseconds. A spin pays off when it outlasts the
 * device's answer: the dummy device's engine looks at the doorbell every 5-20 µs while it
 * is busy, so natively a request to a busy device completes within a few tens of µs, and
 * waking through the interrupt and the reactor costs much more. Measured in the QEMU rig
 * (TCG, everything 10-20 times slower), doorbell to resolved `run`, p50: 4.5-8 ms with no
 * spin, 0.5-0.7 ms with a 300 µs spin that covers the emulated device's answer (the C
 * client's eventfd wake-up: 0.35-0.55 ms). 50 µs covers a native device's busy answer with
 * room to spare and bounds what an idle wait burns before it sleeps to 50 µs of the JS
 * thread; raise `spin` for a slower device.
 */
export const DEFAULT_SPIN_US = 50;
/** Why the reaper's sleep ends early: made once, since an abort reason is never shown. */
const STOP_SLEEP: unique symbol = Symbol("stop sleeping");
/** The longest sleep between looks at the ring when the device has no interrupt (ms). */
const POLL_MAX_MS = 10;
/** The default bound of `run`'s backlog (requests waiting for ring room). */
export const DEFAULT_BACKLOG = 16384;
/** The first id `run` assigns; ids from here to 0xfffffffe belong to `run`. */
export const RUN_ID_BASE = 0x80000000;
const RUN_ID_LAST = 0xfffffffe;

/** The ring is full: reap completions, then send again. `code` is `"EAGAIN"`. */
export class QueueFullError extends Error {
  /** Always `"EAGAIN"`. */
  readonly code: string = "EAGAIN";
  constructor(message: string) {
    super(message);
    this.name = "QueueFullError";
  }
}

/** The queue was released; `code` is `"ERR_RELEASED"`. */
export class QueueReleasedError extends Error {
  /** Always `"ERR_RELEASED"`. */
  readonly code: string = "ERR_RELEASED";
  constructor(action: string, what: string) {
    super(`Cannot ${action}: queue ${what} was released`);
    this.name = "QueueReleasedError";
  }
}

/** A request as `run` takes it: the driver's request without its `id`, which `run` assigns. */
export type RunRequest<Req> = Req extends { readonly id: number } ? Omit<Req, "id"> & { readonly id?: undefined } : Req;

interface RunEntry<Req, Cpl> {
  readonly id: number;
  readonly request: Req;
  readonly resolve: (c: Cpl) => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  sent: boolean;
}

interface Consumer<Cpl> {
  readonly resolve: (c: Cpl) => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

function checkWaitOptions(what: string, options: QueueWaitOptions): void {
  const t = options.timeout;
  if (t !== undefined && !(typeof t === "number" && t >= 0)) {
    throw new RangeError(`Cannot ${what} with timeout ${JSON.stringify(t)}: it must be a non-negative number of milliseconds`);
  }
}

/**
 * An open queue. Every method throws {@link QueueReleasedError} after `release()`, and
 * release returns the queue in the order real DMA hardware survives: it stops the device
 * (the driver's `quiesce`, then a reset where the device offers one), closes the device
 * (the kernel reclaims the queue), and only then unmaps the DMA buffers, closes the group
 * and the container, and removes the mediated device if this queue made it.
 *
 * `run` is the simple path: a promise per request, ids assigned by the queue. `send`,
 * `sendBatch`, `sendEncoded`, `poll` and `wait` are the ring itself, for experts. Both
 * can be used together: `run` owns the ids from {@link RUN_ID_BASE} (2^31) up, and its
 * completions never reach `poll`, `wait` or `completions`; requests sent with ids below
 * 2^31 complete there as before.
 *
 * @typeParam Req The driver's request type (`DummyRequest` for `wd_dummy_v1`).
 * @typeParam Cpl The driver's completion type.
 * @example
 * ```ts
 * await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy" });
 * const buf = q.alloc(8192);
 * const done = await q.run({ op: "copy", src: buf.iova, dst: buf.iova + 4096n, len: 4096 }, { timeout: 1000 });
 * ```
 */
export class Queue<Req = unknown, Cpl = unknown> implements QueueIdentity {
  readonly device: string;
  readonly type: string;
  readonly alg: string;
  readonly deviceApi: string;
  readonly mdev: string;
  readonly created: boolean;
  #driver: UserDriver<unknown, Req, Cpl>;
  #handle: unknown;
  #port: DevicePort;
  #dma: DmaBuffer[] = [];
  /** Completions reaped and not yet taken by poll, wait or completions (ids not run's). */
  #pending: Cpl[] = [];
  #released = false;
  #releasing: Promise<void> | undefined;
  #onRelease: (() => void | Promise<void>) | undefined;
  #one: Req[] = [];
  #irq: EventFd | undefined;
  #spinMs: number;
  #backlogLimit: number;
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
  #teardownFailure: unknown;

  /** @internal Built by `requestQueue` (or a test) around an opened device and a driver. */
  constructor(
    identity: QueueIdentity,
    parts: {
      readonly driver: UserDriver<unknown, Req, Cpl>;
      readonly port: DevicePort;
      readonly onRelease?: (() => void | Promise<void>) | undefined;
      readonly tuning?: QueueTuning | undefined;
    },
  ) {
    const spin = parts.tuning?.spin ?? DEFAULT_SPIN_US;
    const backlog = parts.tuning?.backlog ?? DEFAULT_BACKLOG;
    if (!(typeof spin === "number" && spin >= 0 && spin <= 1_000_000)) {
      throw new RangeError(`Cannot open a queue with spin ${JSON.stringify(spin)}: it must be 0 to 1000000 microseconds`);
    }
    if (!Number.isSafeInteger(backlog) || backlog < 0) {
      throw new RangeError(`Cannot open a queue with backlog ${JSON.stringify(backlog)}: it must be a non-negative integer`);
    }
    this.#spinMs = spin / 1000;
    this.#backlogLimit = backlog;
    this.device = identity.device;
    this.type = identity.type;
    this.alg = identity.alg;
    this.deviceApi = identity.deviceApi;
    this.mdev = identity.mdev;
    this.created = identity.created;
    this.#driver = parts.driver;
    this.#port = parts.port;
    this.#onRelease = parts.onRelease;
    this.#handle = parts.driver.open({
      alg: identity.alg,
      device: identity.mdev,
      regionCount: parts.port.regionCount,
      mapRegion: (i: number) => parts.port.mapRegion(i),
    });
    const irq = parts.driver.completionIrq;
    if (irq !== undefined && parts.tuning?.interrupts !== false && parts.port.interrupt !== undefined) {
      try {
        this.#irq = parts.port.interrupt(irq);
      } catch {
        // A device (or an older module) without the interrupt: the queue polls instead.
        this.#irq = undefined;
      }
    }
  }

  /** Whether waits sleep on the device's completion interrupt (false: they poll with timers). */
  get interrupts(): boolean {
    return this.#irq !== undefined;
  }

  #check(action: string): void {
    if (this.#released) throw new QueueReleasedError(action, `${this.device}/${this.type} (${this.mdev})`);
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Sends one request and rings the doorbell.
   *
   * @throws {QueueFullError} (`EAGAIN`) when the ring has no room: reap completions first.
   * @throws {TypeError | RangeError} when the driver refuses the request's shape.
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * q.send({ op: "nop", id: 7 });
   * ```
   */
  send(request: Req): void {
    this.#check("send a request");
    this.#one[0] = request;
    const n = this.#driver.submit(this.#handle, this.#one);
    if (n !== 1) throw new QueueFullError(`Cannot send a request to ${this.mdev}: the ring is full; reap completions with poll() or wait() first`);
  }

  /**
   * Sends as many of `requests` as the ring takes, with one doorbell, and returns how many
   * were sent (the rest are for a later call).
   *
   * @throws {TypeError | RangeError} when the driver refuses a request (nothing is sent).
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * const sent = q.sendBatch(requests);
   * ```
   */
  sendBatch(requests: readonly Req[]): number {
    this.#check("send requests");
    return this.#driver.submit(this.#handle, requests);
  }

  /**
   * The size of one encoded request (descriptor) in u32 words, or `undefined` when the
   * driver takes request objects only.
   */
  get descriptorWords(): number | undefined {
    return this.#driver.descriptorWords;
  }

  /**
   * Encodes requests once into the device's descriptor format, checked as `send` checks
   * them, for {@link Queue.sendEncoded}: the hot path when the same requests (buffers,
   * lengths) go out many times. Descriptor `i` is at word `i * descriptorWords`; a field
   * may be changed in place through the driver's layout (the id, for example).
   *
   * @throws {TypeError | RangeError} when the driver refuses a request (naming it).
   * @throws {Error} when the driver has no encoded path.
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * const words = q.encode([{ op: "copy", id: 1, src: 0x1000, dst: 0x2000, len: 64 }]);
   * q.sendEncoded(words); // as often as wanted
   * ```
   */
  encode(requests: readonly Req[]): Uint32Array {
    this.#check("encode requests");
    const d = this.#driver;
    const dw = d.descriptorWords;
    if (dw === undefined || d.encode === undefined) throw this.#noEncoded("encode requests");
    const words = new Uint32Array(requests.length * dw);
    for (let i = 0; i < requests.length; i++) {
      try {
        d.encode(requests[i] as Req, words, i * dw);
      } catch (e) {
        if (e instanceof Error) e.message = `request ${i}: ${e.message}`;
        throw e;
      }
    }
    return words;
  }

  /**
   * Sends `count` encoded requests starting at descriptor `first` of `words` (from
   * {@link Queue.encode}, or written by the caller in the driver's layout), with one
   * doorbell, and returns how many were sent, as `sendBatch` does. The descriptors go to
   * the device as they are; the device checks them and answers a bad one with an error
   * completion.
   *
   * @param first The first descriptor (not word) to send; 0 by default.
   * @param count How many; all from `first` to the end by default.
   * @throws {TypeError} when `words` is not a Uint32Array of whole descriptors.
   * @throws {RangeError} when the range is not inside `words`.
   * @throws {Error} when the driver has no encoded path.
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * const sent = q.sendEncoded(words, 16, 16); // descriptors 16..31
   * ```
   */
  sendEncoded(words: Uint32Array, first = 0, count?: number): number {
    this.#check("send requests");
    const d = this.#driver;
    const dw = d.descriptorWords;
    if (dw === undefined || d.submitEncoded === undefined) throw this.#noEncoded("send encoded requests");
    if (!(words instanceof Uint32Array) || words.length % dw !== 0) {
      throw new TypeError(`Cannot send encoded requests: words must be a Uint32Array of whole ${dw}-word descriptors (got ${words instanceof Uint32Array ? `${words.length} words` : typeof words})`);
    }
    const total = words.length / dw;
    const n = count === undefined ? total - first : count;
    if (!Number.isInteger(first) || !Number.isInteger(n) || first < 0 || n < 0 || first + n > total) {
      throw new RangeError(`Cannot send encoded requests from descriptor ${first}, count ${count}: the array holds descriptors 0..${total - 1}`);
    }
    return d.submitEncoded(this.#handle, words, first, n);
  }

  #noEncoded(action: string): Error {
    return new Error(`Cannot ${action}: the ${this.deviceApi} driver has no encoded path (descriptorWords, encode, submitEncoded); use send() or sendBatch()`);
  }

  /**
   * Returns the completions that are ready, up to `max`, without waiting. Completions of
   * `run` requests are never among them: they settle their promises.
   *
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * for (const c of q.poll()) console.log(c);
   * ```
   */
  poll(max: number = Number.MAX_SAFE_INTEGER): Cpl[] {
    this.#check("poll for completions");
    if (this.#pending.length < max) this.#reap();
    return this.#pending.splice(0, max);
  }

  /**
   * Waits for the next completion (of a request sent with `send`, `sendBatch` or
   * `sendEncoded`). It reaps the ring, spins for a short bounded time, then arms the
   * device's interrupt and sleeps in the reactor (or, without an interrupt, polls with
   * timers that back off): an idle wait costs no CPU.
   *
   * @throws {TimeoutError} code `"ETIMEDOUT"` when `timeout` passes.
   * @throws The signal's reason when aborted (at once when it already is).
   * @throws {RangeError} A bad timeout.
   * @throws {QueueReleasedError} after release, or when the queue is released while waiting.
   * @example
   * ```ts
   * const c = await q.wait({ timeout: 5000 });
   * ```
   */
  wait(options: QueueWaitOptions = {}): Promise<Cpl> {
    try {
      this.#check("wait for a completion");
      checkWaitOptions("wait for a completion", options);
      options.signal?.throwIfAborted();
      if (this.#pending.length === 0) this.#reap();
      if (this.#pending.length > 0) return Promise.resolve(this.#pending.shift() as Cpl);
      if (options.timeout === 0) throw new TimeoutError(`wait for a completion from ${this.mdev}`, 0);
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
        c.timer = setTimeout(() => drop(new TimeoutError(`wait for a completion from ${this.mdev}`, timeout)), timeout);
      }
      if (signal !== undefined) {
        c.onAbort = () => drop(signal.reason);
        signal.addEventListener("abort", c.onAbort, { once: true });
      }
      this.#consumers.add(c);
      this.#startPump();
    });
  }

  /**
   * The completions of requests sent on the ring, as they come (not those of `run`). The
   * iteration ends when the queue is released, and throws the signal's reason when aborted.
   *
   * @throws The signal's reason when aborted.
   * @example
   * ```ts
   * for await (const c of q.completions({ signal })) console.log(c.id, c.status);
   * ```
   */
  async *completions(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<Cpl, void, undefined> {
    for (;;) {
      if (this.#released) return;
      let c: Cpl;
      try {
        c = await this.wait(options.signal === undefined ? {} : { signal: options.signal });
      } catch (e) {
        if (e instanceof QueueReleasedError) return;
        throw e;
      }
      yield c;
    }
  }

  /**
   * Runs one request: the queue assigns its id, sends it (calls made in the same turn of
   * the event loop go out together, with one doorbell), and resolves with its completion.
   * When the ring is full, requests wait their turn in order, up to the backlog bound.
   *
   * A request aborted or timed out after it reached the device cannot be recalled: the
   * device still runs it (its buffers must stay valid until then), and its completion is
   * dropped when it arrives.
   *
   * @param request The driver's request without an `id`.
   * @param options `timeout` (ms) and `signal`.
   * @returns The request's completion, whatever its status (check it).
   * @throws {TypeError | RangeError} A malformed request or options: nothing is sent.
   * @throws {QueueFullError} (`EAGAIN`) when the backlog is full.
   * @throws {TimeoutError} (`ETIMEDOUT`) when `timeout` passes first.
   * @throws The signal's reason when aborted (at once when it already is).
   * @throws {QueueReleasedError} after release, or when the queue is released first.
   * @example
   * ```ts
   * const c = await q.run({ op: "csum", src: buf.iova, len: 4096 }, { timeout: 1000 });
   * ```
   */
  run(request: RunRequest<Req>, options: QueueWaitOptions = {}): Promise<Cpl> {
    let entry: RunEntry<Req, Cpl>;
    let settle!: { resolve: (c: Cpl) => void; reject: (e: unknown) => void };
    const promise = new Promise<Cpl>((resolve, reject) => (settle = { resolve, reject }));
    try {
      this.#check("run a request");
      checkWaitOptions("run a request", options);
      options.signal?.throwIfAborted();
      if (options.timeout === 0) throw new TimeoutError(`run a request on ${this.mdev}`, 0);
      if (request === null || typeof request !== "object") {
        throw new TypeError(`Cannot run request ${JSON.stringify(request)}: it must be an object`);
      }
      if ((request as { id?: unknown }).id !== undefined) {
        throw new TypeError(`Cannot run a request with id ${JSON.stringify((request as { id?: unknown }).id)}: run assigns ids; leave id out (or use send)`);
      }
      if (this.#backlog.length - this.#backlogHead >= this.#backlogLimit) {
        throw new QueueFullError(`Cannot run a request on ${this.mdev}: ${this.#backlogLimit} requests already wait for ring room (the backlog option bounds them)`);
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
      entry.timer = setTimeout(() => this.#giveUp(entry, new TimeoutError(`run request ${entry.id} on ${this.mdev}`, timeout)), timeout);
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
    throw new QueueFullError(`Cannot run a request on ${this.mdev}: every run id is in use`);
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
    if (this.#released) return;
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
    return !this.#released && (this.#inflight.size > 0 || this.#consumers.size > 0 || this.#backlog.length > this.#backlogHead);
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
            this.#driver.arm!(this.#handle);
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
          if (!ac.signal.aborted && !this.#released) throw e;
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

  /**
   * Allocates page-aligned memory mapped for this queue's device (its IOVA goes into
   * requests). It is freed by its own `close()` or when the queue is released.
   *
   * @throws {RangeError} on a bad size.
   * @throws {SyscallError} ENOMEM when the kernel pins the memory and RLIMIT_MEMLOCK is too low
   *   (the message says how to raise it).
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * const buf = q.alloc(4096);
   * buf.bytes().set(payload);
   * ```
   */
  alloc(size: number, options: QueueDmaOptions = {}): DmaBuffer {
    this.#check("allocate a DMA buffer");
    const b = this.#port.allocDma(size, options);
    this.#dma.push(b);
    return b;
  }

  /**
   * Releases the queue (idempotent), in the order real DMA hardware survives: pending
   * `run`s and waits reject with {@link QueueReleasedError}; the driver stops the device
   * (`quiesce`) and the device is reset where it offers one, so no DMA is in flight; the
   * driver forgets the queue; the device is closed (its mappings, interrupts, then its fd:
   * the kernel reclaims the queue); only then are the DMA buffers unmapped, the group and
   * the container closed, and a mediated device this queue created removed (off the main
   * thread). Goes on past a failure and reports every failure at the end.
   *
   * @returns Settles when everything is done, the removal included.
   * @throws The teardown's failures (an AggregateError when several).
   * @example
   * ```ts
   * await q.release();
   * ```
   */
  release(): Promise<void> {
    if (this.#releasing !== undefined) return this.#releasing;
    this.#released = true;
    const gone = new QueueReleasedError("complete the request", `${this.device}/${this.type} (${this.mdev})`);
    this.#failAll(gone);
    this.#sleep?.abort(STOP_SLEEP);
    this.#pending = [];
    this.#dropped.clear();
    const d = this.#driver;
    const steps: (() => void)[] = [];
    if (d.quiesce !== undefined) steps.push(() => d.quiesce!(this.#handle));
    steps.push(
      () => this.#port.reset(),
      () => d.close(this.#handle),
      () => this.#port.closeDevice(),
      ...this.#dma.reverse().map((b) => () => b.close()),
      () => this.#port.close(),
    );
    this.#dma = [];
    this.#irq = undefined;
    let failure: unknown;
    try {
      closeAll(`queue ${this.mdev}`, steps);
    } catch (e) {
      failure = e;
      this.#teardownFailure = e;
    }
    const after = this.#onRelease;
    this.#releasing = (async () => {
      let removal: unknown;
      if (after !== undefined) {
        try {
          await after();
        } catch (e) {
          removal = e;
        }
      }
      if (failure !== undefined && removal !== undefined) throw new AggregateError([failure, removal], `Cannot close queue ${this.mdev} cleanly: 2 steps failed`);
      if (failure !== undefined) throw failure;
      if (removal !== undefined) throw removal;
    })();
    return this.#releasing;
  }

  /** Same as `release()`, without waiting for the removal of a mediated device it created (use `await using` for that). */
  [Symbol.dispose](): void {
    const first = this.#releasing === undefined;
    this.release().catch(() => {
      // A synchronous dispose cannot wait for the removal; `await using` reports it.
    });
    if (first && this.#teardownFailure !== undefined) throw this.#teardownFailure;
  }

  /** Same as `release()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
