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
import type { UserDriver } from "../drivers/driver.ts";
import type { AcceleratorClass } from "../sysfs/model.ts";
import { Dispatcher } from "./dispatch.ts";
import { LentRing } from "./lent.ts";
import { completionsOf, type DispatchParts } from "./_waiters.ts";
import { type Arena, arenaOf, type DeviceMemory } from "./memory.ts";
import { type DevicePort, guardedDriver, type QueueDmaOptions, readinessFor } from "./port.ts";
import { afterTeardown, tearDown } from "./teardown.ts";
import { encodeAll, encodedCount, encodedRoom } from "./encoded.ts";
import { checkedTuning, QueueFields, QueueFullError, type QueueIdentity, QueueReleasedError, type QueueTuning, type QueueWaitOptions, type RunRequest } from "./types.ts";

/**
 * An open queue. Every method throws {@link QueueReleasedError} after `release()`, which
 * returns the queue in the order real DMA hardware survives (see there).
 *
 * `run` is the simple path: a promise per request, ids assigned by the queue. `send`,
 * `sendBatch`, `sendEncoded`, `poll` and `wait` are the ring itself, for experts. Both
 * can be used together: `run` owns the ids from {@link RUN_ID_BASE} (2^31) up, and its
 * completions never reach `poll`, `wait` or `completions`; requests sent with ids below
 * 2^31 complete there as before. `lendRing` lends the rings themselves, for use in place.
 *
 * @typeParam Req The driver's request type (`DummyRequest` for `wd_dummy_v1`).
 * @typeParam Cpl The driver's completion type.
 * @example
 * ```ts
 * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
 * await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy" });
 * const buf = q.alloc(8192);
 * const done = await q.run({ op: "copy", src: buf.iova, dst: buf.iova + 4096n, len: 4096 }, { timeout: 1000 });
 * ```
 */
export class Queue<Req = unknown, Cpl = unknown> extends QueueFields {
  #driver: UserDriver<unknown, Req, Cpl>;
  #handle: unknown;
  #port: DevicePort;
  #arena: Arena | undefined;
  #dma: DeviceMemory[] = [];
  #released = false;
  #releasing: Promise<void> | undefined;
  #onRelease: (() => void | Promise<void>) | undefined;
  #one: Req[] = [];
  #parts: DispatchParts<Req, Cpl>;
  #dispatch: Dispatcher<Req, Cpl>;
  #lent: LentRing<Req> | undefined;
  #teardownFailure: unknown;

  /** @internal Built by `requestQueue` (or a test) around an opened device and a driver. */
  constructor(
    identity: Omit<QueueIdentity, "class"> & { readonly class?: AcceleratorClass },
    parts: {
      readonly driver: UserDriver<unknown, Req, Cpl>;
      readonly port: DevicePort;
      readonly onRelease?: (() => void | Promise<void>) | undefined;
      readonly tuning?: QueueTuning | undefined;
    },
  ) {
    super(identity);
    const { spin, backlog } = checkedTuning(parts.tuning);
    const port = parts.port;
    // A port that can go away under the queue (UACCE) is checked before each driver call.
    this.#driver = guardedDriver(parts.driver, port);
    this.#port = port;
    this.#onRelease = parts.onRelease;
    const mapRegion = (i: number) => port.mapRegion(i);
    this.#handle = parts.driver.open({ alg: identity.alg, device: identity.mdev, regionCount: port.regionCount, mapRegion, sva: port.sva === true });
    this.#dispatch = new Dispatcher<Req, Cpl>(this.#parts = {
      driver: this.#driver,
      handle: this.#handle,
      irq: readinessFor(parts.driver, port, parts.tuning?.interrupts),
      spinMs: spin / 1000,
      backlog,
      label: identity.mdev,
      closedError: (action) => new QueueReleasedError(action, `${this.device}/${this.type} (${this.mdev})`),
    });
  }

  /** Whether waits sleep on the device's completion interrupt (false: they poll with timers). */
  get interrupts(): boolean {
    return this.#dispatch.interrupts;
  }
  #check(action: string): void {
    if (this.#released) throw this.#parts.closedError(action);
  }
  /** `#check`, and that the ring is not lent: for the data path. */
  #checkRing(action: string): void {
    this.#check(action);
    if (this.#lent !== undefined) throw new Error(`Cannot ${action}: the ring of ${this.mdev} is lent (lendRing()); give it back first`);
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
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * q.send({ op: "nop", id: 7 });
   * ```
   */
  send(request: Req): void {
    this.#checkRing("send a request");
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
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const requests: DummyRequest[] = [{ op: "nop", id: 1 }, { op: "nop", id: 2 }];
   * const sent = q.sendBatch(requests);
   * ```
   */
  sendBatch(requests: readonly Req[]): number {
    this.#checkRing("send requests");
    return this.#driver.submit(this.#handle, requests);
  }

  /** One encoded request's (descriptor's) size in u32 words (undefined: request objects only). */
  get descriptorWords(): number | undefined {
    return this.#driver.descriptorWords;
  }

  /**
   * Encodes requests once into the device's descriptor format, checked as `send` checks
   * them, for {@link Queue.sendEncoded}: the hot path when the same requests (buffers,
   * lengths) go out many times. Descriptor `i` is at word `i * descriptorWords`; a field
   * may be changed in place through the driver's layout (the id, for example).
   *
   * @throws {TypeError | RangeError} when the driver refuses a request (naming it); {Error}
   *   when the driver has no encoded path; {QueueReleasedError} after release.
   * @example
   * ```ts
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const words = q.encode([{ op: "copy", id: 1, src: 0x1000, dst: 0x2000, len: 64 }]);
   * q.sendEncoded(words); // as often as wanted
   * ```
   */
  encode(requests: readonly Req[]): Uint32Array {
    this.#check("encode requests");
    return encodeAll(this.#driver, requests);
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
   * @throws {TypeError} when `words` is not a Uint32Array of whole descriptors; {RangeError}
   *   when the range is not inside `words`; {Error} when the driver has no encoded path.
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const words = q.encode([{ op: "nop", id: 1 }, { op: "nop", id: 2 }]);
   * const sent = q.sendEncoded(words, 16, 16); // descriptors 16..31
   * ```
   */
  sendEncoded(words: Uint32Array, first = 0, count?: number): number {
    this.#checkRing("send requests");
    const n = encodedCount(this.#driver, words, first, count);
    return this.#driver.submitEncoded!(this.#handle, words, first, n);
  }

  /**
   * Returns the completions that are ready, up to `max`, without waiting. Completions of
   * `run` requests are never among them: they settle their promises.
   *
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * for (const c of q.poll()) console.log(c);
   * ```
   */
  poll(max: number = Number.MAX_SAFE_INTEGER): Cpl[] {
    this.#checkRing("poll for completions");
    return this.#dispatch.poll(max);
  }

  /**
   * The zero-allocation counterpart of `poll`: copies up to `max` ready completions (not
   * `run`'s) as the device wrote them into `words` (reuse it), completion `i` at word
   * `i * completionWords` in the driver's layout, and returns how many.
   *
   * @throws {RangeError} when `words` has no room for one completion; {Error} when the driver
   *   has no encoded completions; {QueueReleasedError} after release.
   */
  pollEncoded(words: Uint32Array, max: number = Number.MAX_SAFE_INTEGER): number {
    this.#checkRing("poll for completions");
    return this.#dispatch.pollEncoded(words, encodedRoom(this.#driver, this.#dispatch.completionWords, words, max));
  }

  /** One completion's size in u32 words for `pollEncoded` (undefined: objects only). */
  get completionWords(): number | undefined {
    return this.#dispatch.completionWords;
  }

  /**
   * Lends the rings for use in place, nothing copied or allocated per request (see
   * {@link LentRing}); until given back, the queue's own data path refuses to run.
   *
   * @throws {Error} when the driver lends none, the ring is lent, or runs, waits or kept
   *   completions are on it; {QueueReleasedError} after release.
   */
  lendRing(): LentRing<Req> {
    this.#checkRing("lend the ring");
    const lend = this.#driver.lend;
    if (lend === undefined) throw new Error(`Cannot lend the ring of ${this.mdev}: the ${this.deviceApi} driver lends none (lend); use sendEncoded() and pollEncoded()`);
    if (!this.#dispatch.alone()) throw new Error(`Cannot lend the ring of ${this.mdev}: run requests, waits or completions reaped and not taken are on it; let them settle (poll() the rest) first`);
    const { driver, handle, irq, spinMs, label } = this.#parts;
    const lent = new LentRing<Req>({ parts: lend.call(driver, handle), driver, handle, irq, spinMs, label, check: this.#port.check?.bind(this.#port), onGiveBack: () => (this.#lent = undefined) });
    return (this.#lent = lent);
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
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const c = await q.wait({ timeout: 5000 });
   * ```
   */
  wait(options?: QueueWaitOptions): Promise<Cpl> {
    try {
      this.#checkRing("wait for a completion");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#dispatch.wait(options);
  }

  /**
   * The completions of requests sent on the ring, as they come (not those of `run`). The
   * iteration ends when the queue is released, and throws the signal's reason when aborted.
   *
   * @throws The signal's reason when aborted.
   * @example
   * ```ts
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const signal = AbortSignal.timeout(10_000);
   * for await (const c of q.completions({ signal })) console.log(c.id, c.status);
   * ```
   */
  completions(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<Cpl, void, undefined> {
    return completionsOf({ closed: () => this.#released, wait: (o) => this.wait(o) }, options.signal);
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
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const buf = q.alloc(8192);
   * const c = await q.run({ op: "csum", src: buf.iova, len: 4096 }, { timeout: 1000 });
   * ```
   */
  run(request: RunRequest<Req>, options?: QueueWaitOptions): Promise<Cpl> {
    try {
      this.#checkRing("run a request");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#dispatch.run(request, options);
  }

  /**
   * Allocates memory this queue's device can use; its `iova` goes into requests. Through
   * VFIO: page-aligned memory mapped in the IOMMU. UACCE with SVA: page-aligned process
   * memory, `iova` its address. UACCE without SVA: a span of the arena the driver names
   * in a device region, `iova` its offset there (64-byte granules). It is freed by its own
   * `close()` or when the queue is released.
   *
   * @throws {RangeError} on a bad size, or when the arena has no room.
   * @throws {SyscallError} ENOMEM when the kernel pins the memory and RLIMIT_MEMLOCK is too low
   *   (the message says how to raise it).
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * const payload = new TextEncoder().encode("hello");
   * const buf = q.alloc(4096);
   * buf.bytes().set(payload);
   * ```
   */
  alloc(size: number, options: QueueDmaOptions = {}): DeviceMemory {
    this.#check("allocate device memory");
    const p = this.#port;
    const b = p.allocDma?.(size, options) ?? (this.#arena ??= arenaOf(this.#driver.bufferArena?.(this.#handle), p, `${this.deviceApi} queue ${this.mdev}`)).alloc(size);
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
   * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
   * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
   * await q.release();
   * ```
   */
  release(): Promise<void> {
    if (this.#releasing !== undefined) return this.#releasing;
    this.#released = true;
    this.#dispatch.close(this.#parts.closedError("complete the request"));
    this.#lent?.end(this.#parts.closedError);
    const failure = tearDown({ driver: this.#driver, handle: this.#handle, port: this.#port, dma: this.#dma, label: `queue ${this.mdev}` });
    this.#dma = [];
    if (failure !== undefined) this.#teardownFailure = failure;
    this.#releasing = afterTeardown(failure, this.#onRelease, `queue ${this.mdev}`);
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
