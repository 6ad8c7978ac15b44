/**
 * A queue of an accelerator, opened by {@link requestQueue}: send requests, reap
 * completions, allocate DMA buffers, release.
 *
 * @module
 */
import { setImmediate as immediate, setTimeout as sleep } from "node:timers/promises";
import type { UserDriver } from "../drivers/registry.ts";
import { closeAll } from "../sys/error.ts";
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

/** Options of {@link Queue.wait}. */
export interface QueueWaitOptions {
  /** Milliseconds before giving up with an `ETIMEDOUT` error; no limit by default. */
  readonly timeout?: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

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

/** No completion came within the time `wait()` was given; `code` is `"ETIMEDOUT"`. */
export class QueueTimeoutError extends Error {
  /** Always `"ETIMEDOUT"`. */
  readonly code: string = "ETIMEDOUT";
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;
  constructor(what: string, timeout: number) {
    super(`No completion from ${what} within ${timeout} ms`);
    this.name = "QueueTimeoutError";
    this.timeout = timeout;
  }
}

/**
 * An open queue. Every method throws {@link QueueReleasedError} after `release()`, and
 * release returns the queue: it unmaps the regions and DMA buffers, closes the device
 * (the kernel reclaims the queue), and removes the mediated device if this queue made it.
 *
 * @typeParam Req The driver's request type (`DummyRequest` for `wd_dummy_v1`).
 * @typeParam Cpl The driver's completion type.
 * @example
 * ```ts
 * await using q = await requestQueue({ alg: "copy" });
 * const buf = q.alloc(8192);
 * q.send({ op: "copy", id: 1, src: buf.iova, dst: buf.iova + 4096n, len: 4096 });
 * const done = await q.wait({ timeout: 1000 });
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
  #pending: Cpl[] = [];
  #released = false;
  #onRelease: (() => void) | undefined;
  #one: Req[] = [];

  /** @internal Built by `requestQueue` (or a test) around an opened device and a driver. */
  constructor(
    identity: QueueIdentity,
    parts: { readonly driver: UserDriver<unknown, Req, Cpl>; readonly port: DevicePort; readonly onRelease?: () => void },
  ) {
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
   * Returns the completions that are ready, up to `max`, without waiting.
   *
   * @throws {QueueReleasedError} after release.
   * @example
   * ```ts
   * for (const c of q.poll()) console.log(c);
   * ```
   */
  poll(max: number = Number.MAX_SAFE_INTEGER): Cpl[] {
    this.#check("poll for completions");
    if (this.#pending.length > 0) {
      const out = this.#pending.splice(0, max);
      if (out.length < max) out.push(...this.#driver.poll(this.#handle, max - out.length));
      return out;
    }
    return this.#driver.poll(this.#handle, max);
  }

  /**
   * Waits for the next completion. The dummy accelerator raises no interrupt, so this
   * polls, yielding to the event loop between tries (immediately at first, then backing
   * off to 1 ms sleeps).
   *
   * @throws {QueueTimeoutError} code `"ETIMEDOUT"` when `timeout` passes; the signal's reason when aborted.
   * @throws {QueueReleasedError} after release, or when the queue is released while waiting.
   * @example
   * ```ts
   * const c = await q.wait({ timeout: 5000 });
   * ```
   */
  async wait(options: QueueWaitOptions = {}): Promise<Cpl> {
    const { timeout, signal } = options;
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) {
      throw new RangeError(`Cannot wait ${JSON.stringify(timeout)} ms: timeout must be a non-negative number`);
    }
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
    for (let tries = 0;; tries++) {
      signal?.throwIfAborted();
      this.#check("wait for a completion");
      const got = this.#pending.shift() ?? this.#take();
      if (got !== undefined) return got;
      if (performance.now() >= deadline) {
        throw new QueueTimeoutError(this.mdev, timeout as number);
      }
      if (tries < 1000) await immediate();
      else await sleep(1, undefined, signal === undefined ? undefined : { signal });
    }
  }

  #take(): Cpl | undefined {
    const got = this.#driver.poll(this.#handle, 64);
    if (got.length === 0) return undefined;
    const first = got.shift() as Cpl;
    this.#pending.push(...got);
    return first;
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
   * Releases the queue (idempotent): the driver forgets it, DMA buffers and regions are
   * unmapped, the device, group and container are closed (the kernel reclaims the queue),
   * and a mediated device this queue created is removed. Goes on past a failure and
   * reports every failure at the end.
   *
   * @example
   * ```ts
   * q.release();
   * ```
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#pending = [];
    const steps: (() => void)[] = [
      () => this.#driver.close(this.#handle),
      ...this.#dma.reverse().map((b) => () => b.close()),
      () => this.#port.close(),
    ];
    if (this.#onRelease !== undefined) steps.push(this.#onRelease);
    this.#dma = [];
    closeAll(`queue ${this.mdev}`, steps);
  }

  /** Same as `release()`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as `release()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
