/**
 * eventfd(2) with an awaitable `wait()` that sleeps in the process's one reactor (epoll),
 * cancellable by timeout, AbortSignal or `close()`.
 *
 * @module
 */

import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, POLLIN } from "../abi/libc.ts";
import { errno, libc } from "./_ffi.ts";
import { errnoValue } from "./errno.ts";
import { ClosedError, SyscallError, TimeoutError } from "./error.ts";
import { Fd } from "./fd.ts";
import { pollBlocking } from "./poll.ts";
import { reactor } from "./reactor.ts";

const EAGAIN = errnoValue("EAGAIN");

/** Options of `EventFd.wait()`. */
export interface WaitOptions {
  /** Milliseconds to wait before rejecting with `TimeoutError` (`code` `"ETIMEDOUT"`); forever by default. */
  readonly timeout?: number;
  /** Rejects with the signal's reason when aborted. */
  readonly signal?: AbortSignal;
}

function counterBytes(value: bigint): Uint8Array {
  return new Uint8Array(new BigUint64Array([value]).buffer);
}

/**
 * An eventfd: a 64-bit counter the kernel (a VFIO interrupt) or another thread or process
 * increments, and this process awaits.
 *
 * @example
 * ```ts
 * using efd = EventFd.create();
 * setTimeout(() => efd.signal(), 10);
 * await efd.wait({ timeout: 1000 }); // 1
 * ```
 */
export class EventFd {
  #fd: Fd;
  #closing = false;
  /** The counter as read(2) fills it; the kernel writes it during the call only. */
  #buf = new BigUint64Array(1);

  private constructor(fd: Fd) {
    this.#fd = fd;
  }

  /**
   * Creates a non-blocking, close-on-exec eventfd.
   *
   * @param options `initval` (default 0); `semaphore` makes each read take 1.
   * @throws {SyscallError} EMFILE, ENFILE, ENOMEM.
   * @example
   * ```ts
   * const efd = EventFd.create({ label: "MSI vector 0" });
   * ```
   */
  static create(options: { readonly initval?: number; readonly semaphore?: boolean; readonly label?: string } = {}): EventFd {
    const flags = EFD_CLOEXEC | EFD_NONBLOCK | (options.semaphore ? EFD_SEMAPHORE : 0);
    const r = libc.eventfd(options.initval ?? 0, flags), e = errno();
    if (r < 0) throw new SyscallError(e, { syscall: "eventfd", op: options.label });
    return new EventFd(Fd.adopt(r, { label: options.label ?? `eventfd ${r}` }));
  }

  /**
   * The descriptor number (to hand to VFIO_DEVICE_SET_IRQS).
   *
   * @throws {ClosedError} After close.
   */
  get fd(): number {
    return this.#fd.fd;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing || this.#fd.closed;
  }

  /**
   * Adds `n` to the counter (what the kernel does on an interrupt).
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} EAGAIN when the counter would overflow.
   */
  signal(n: number | bigint = 1): void {
    this.#checkOpen("signal");
    this.#fd.write(counterBytes(BigInt(n)), "eventfd signal");
  }

  /**
   * Takes the counter without blocking.
   *
   * @returns The counter value (events since the last read), 0 when none are pending.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} Other than EAGAIN.
   */
  take(): number {
    this.#checkOpen("read");
    // Nothing pending is the common answer of a wait's first look: EAGAIN is checked here
    // rather than thrown and caught (an exception costs far more than the read).
    const buf = this.#buf;
    const r = libc.read(this.#fd.fd, buf, 8), e = errno();
    if (r < 0) {
      if (e === EAGAIN) return 0;
      throw new SyscallError(e, { syscall: "read", op: "eventfd read", path: this.#fd.path });
    }
    return Number(buf[0]!);
  }

  #checkOpen(action: string): void {
    if (this.#closing) throw new ClosedError(action, this.#fd.label);
  }

  /**
   * Waits until the counter is non-zero, then takes it. The wait sleeps in the process's
   * one reactor (`reactor.ts`): no thread per wait, and the JS thread keeps running.
   *
   * @param options `timeout` in ms, `signal` to abort.
   * @returns The counter value (≥ 1: several events may have merged).
   * @throws {TimeoutError} `ETIMEDOUT` after `timeout`.
   * @throws The signal's reason when aborted (at once when it already is).
   * @throws {ClosedError} When closed before or during the wait.
   * @throws {SyscallError} When epoll or read fails.
   * @example
   * ```ts
   * import { EventFd } from "warpdrive/sys";
   * using efd = EventFd.create();
   * efd.signal();
   * const n = await efd.wait({ timeout: 500, signal: AbortSignal.timeout(1000) }); // 1
   * ```
   */
  async wait(options: WaitOptions = {}): Promise<number> {
    const label = this.#fd.label;
    if (this.#closing) throw new ClosedError("wait", label);
    const { timeout, signal } = options;
    if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
      throw new RangeError(`Cannot wait for ${label} with timeout "${timeout}": it must be a non-negative number of milliseconds`);
    }
    signal?.throwIfAborted();
    const first = this.take();
    if (first > 0) return first;
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
    for (;;) {
      const left = deadline === Infinity ? undefined : Math.max(0, deadline - performance.now());
      try {
        await reactor().readable(this.#fd.fd, { timeout: left, signal, label });
      } catch (e) {
        // Report the caller's timeout, not what was left of it after a lost race.
        if (e instanceof TimeoutError) throw new TimeoutError(`wait for ${label}`, timeout!);
        throw e;
      }
      if (this.#closing) throw new ClosedError("wait", label);
      const n = this.take();
      if (n > 0) return n;
      // Another waiter took the events first: wait again.
    }
  }

  /**
   * Like `wait`, but blocks the calling thread in poll(2) until the counter is non-zero,
   * then takes it: for a thread given to a data path (a Worker), as a C client sleeps. The
   * thread runs nothing else meanwhile, its event loop included, and nothing can abort the
   * wait but its timeout.
   *
   * @param options `timeout` in ms (none: no limit).
   * @returns The counter value (≥ 1).
   * @throws {TimeoutError} `ETIMEDOUT` after `timeout`.
   * @throws {ClosedError} When closed before.
   * @throws {SyscallError} When poll or read fails.
   * @example
   * ```ts
   * import { EventFd } from "warpdrive/sys";
   * using efd = EventFd.create();
   * efd.signal(2);
   * efd.waitSync({ timeout: 500 }); // 2
   * ```
   */
  waitSync(options: { readonly timeout?: number } = {}): number {
    const label = this.#fd.label;
    if (this.#closing) throw new ClosedError("wait", label);
    const { timeout } = options;
    if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
      throw new RangeError(`Cannot wait for ${label} with timeout "${timeout}": it must be a non-negative number of milliseconds`);
    }
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
    for (;;) {
      const n = this.take();
      if (n > 0) return n;
      const left = deadline - performance.now();
      if (left <= 0 || pollBlocking(this.#fd.fd, POLLIN, left, { op: `wait for ${label}` }) === 0) {
        const last = this.take();
        if (last > 0) return last;
        throw new TimeoutError(`wait for ${label}`, timeout!);
      }
    }
  }

  /**
   * Closes the eventfd (idempotent). Pending waits reject with `ClosedError`; the fd leaves
   * the reactor's epoll set before it is closed, so its number can be reused at once.
   *
   * @throws {SyscallError} From close(2).
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#fd.closed) reactor().cancel(this.#fd.fd, new ClosedError("wait", this.#fd.label));
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
