/**
 * eventfd(2) with an awaitable `wait()` that blocks in poll(2) on koffi's worker pool (the
 * JS thread stays free), cancellable by timeout, AbortSignal or `close()`.
 *
 * @module
 */

import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, POLLIN } from "../abi/libc.ts";
import { errno, libc, type PollFd } from "./_ffi.ts";
import { errnoValue } from "./errno.ts";
import { ClosedError, SyscallError } from "./error.ts";
import { Fd } from "./fd.ts";

const EAGAIN = errnoValue("EAGAIN");
const EINTR = errnoValue("EINTR");

/** Longest single poll(2) timeout (its argument is an int of milliseconds). */
const MAX_POLL_MS = 0x7fffffff;

/** Options of `EventFd.wait()`. */
export interface WaitOptions {
  /** Milliseconds to wait before rejecting with a `TimeoutError`; forever by default. */
  readonly timeout?: number;
  /** Rejects with the signal's reason when aborted. */
  readonly signal?: AbortSignal;
}

function counterBytes(value: bigint): Uint8Array {
  return new Uint8Array(new BigUint64Array([value]).buffer);
}

function timeoutError(ms: number, label: string): DOMException {
  return new DOMException(`Waiting for ${label} timed out after ${ms} ms`, "TimeoutError");
}

/** One pending wait: its private wake-up eventfd and how to settle it. */
interface Waiter {
  readonly wake: Fd;
  readonly settle: (outcome: { value?: number; error?: unknown }) => void;
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
  #waiters = new Set<Waiter>();
  #closing = false;

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
    const buf = new Uint8Array(8);
    try {
      this.#fd.read(buf, "eventfd read");
    } catch (e) {
      if (e instanceof SyscallError && e.errno === EAGAIN) return 0;
      throw e;
    }
    return Number(new BigUint64Array(buf.buffer)[0]!);
  }

  #checkOpen(action: string): void {
    if (this.#closing) throw new ClosedError(action, this.#fd.label);
  }

  /**
   * Waits until the counter is non-zero, then takes it. The blocking poll(2) runs on koffi's
   * worker pool, so the JS thread keeps running.
   *
   * @param options `timeout` in ms, `signal` to abort.
   * @returns The counter value (≥ 1: several events may have merged).
   * @throws {DOMException} `TimeoutError` after `timeout`; the signal's reason when aborted.
   * @throws {ClosedError} When closed before or during the wait.
   * @throws {SyscallError} When poll or read fails.
   * @example
   * ```ts
   * const n = await efd.wait({ timeout: 500, signal: AbortSignal.timeout(1000) });
   * ```
   */
  wait(options: WaitOptions = {}): Promise<number> {
    const label = this.#fd.label;
    if (this.#closing) return Promise.reject(new ClosedError("wait", label));
    const { timeout, signal } = options;
    if (timeout !== undefined && (!(timeout >= 0) || Number.isNaN(timeout))) {
      return Promise.reject(new RangeError(`Cannot wait with timeout "${timeout}": it must be a non-negative number of milliseconds`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    try {
      const first = this.take();
      if (first > 0) return Promise.resolve(first);
    } catch (e) {
      return Promise.reject(e);
    }

    let wake: Fd;
    try {
      const r = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), e = errno();
      if (r < 0) throw new SyscallError(e, { syscall: "eventfd", op: "wait wake-up" });
      wake = Fd.adopt(r, { label: `wake-up of ${label}` });
    } catch (e) {
      return Promise.reject(e);
    }
    const deadline = timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout;

    return new Promise<number>((resolve, reject) => {
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        wakeUp(wake);
      };
      const waiter: Waiter = {
        wake,
        settle: ({ value, error }) => {
          signal?.removeEventListener("abort", onAbort);
          this.#waiters.delete(waiter);
          try {
            wake.close();
          } catch {
            // The wake-up fd is private and already finished with; nothing to report.
          }
          if (this.#closing && this.#waiters.size === 0) this.#finishClose();
          if (error !== undefined) reject(error);
          else resolve(value!);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });

      const round = (): void => {
        if (this.#closing) return waiter.settle({ error: new ClosedError("wait", label) });
        if (aborted) return waiter.settle({ error: signal!.reason });
        const left = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
        const ms = left > MAX_POLL_MS ? MAX_POLL_MS : left;
        // koffi copies the pollfd array into its own call memory for the worker thread.
        const fds: PollFd[] = [
          { fd: this.#fd.fd, events: POLLIN, revents: 0 },
          { fd: wake.fd, events: POLLIN, revents: 0 },
        ];
        libc.pollAsync(fds, 2, ms, (err, r) => {
          const e = errno();
          if (err) return waiter.settle({ error: err });
          if (this.#closing) return waiter.settle({ error: new ClosedError("wait", label) });
          if (aborted) return waiter.settle({ error: signal!.reason });
          if (r < 0) {
            if (e === EINTR) return round();
            return waiter.settle({ error: new SyscallError(e, { syscall: "poll", op: `wait for ${label}` }) });
          }
          if (r > 0 && (fds[0]!.revents & POLLIN) !== 0) {
            let n: number;
            try {
              n = this.take();
            } catch (x) {
              return waiter.settle({ error: x });
            }
            if (n > 0) return waiter.settle({ value: n });
            // Another waiter took the events first: wait again.
          }
          if (r === 0 && deadline !== Infinity && performance.now() >= deadline) {
            return waiter.settle({ error: timeoutError(timeout!, label) });
          }
          round();
        });
      };
      round();
    });
  }

  #finishClose(): void {
    this.#fd.close();
  }

  /**
   * Closes the eventfd (idempotent). Pending waits reject with `ClosedError`; the fd itself is
   * closed once their polls have returned, so no worker thread ever polls a reused number.
   *
   * @throws {SyscallError} From close(2) when no wait is pending.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#waiters.size === 0) {
      this.#finishClose();
      return;
    }
    for (const w of this.#waiters) wakeUp(w.wake);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function wakeUp(wake: Fd): void {
  if (wake.closed) return;
  try {
    wake.write(counterBytes(1n), "wake up waiter");
  } catch {
    // Only fails if the counter is saturated, which means the waiter is already woken.
  }
}
