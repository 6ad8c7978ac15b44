/**
 * The reactor: one epoll instance that serves every awaited fd of the process (eventfds,
 * VFIO interrupt eventfds, device fds that signal readiness through poll), with at most
 * one koffi async call outstanding whatever the number of waits.
 *
 * The one call is `epoll_wait` with no timeout, on koffi's worker pool. Waits add their fd
 * to the epoll set with `EPOLL_CTL_ADD` from the JS thread (the kernel lets another thread
 * change the set while one blocks in `epoll_wait`, and wakes it when a new fd is ready),
 * one-shot, so a ready fd is reported once until a wait re-arms it. Timeouts are timers,
 * aborts are listeners. When the last wait goes, a private eventfd wakes the worker and no
 * call is made again: an idle reactor leaves nothing that keeps the process alive.
 *
 * Events name a token, never the fd, so an event collected for an fd that was removed
 * (and whose number was reused) meanwhile is recognised as stale and dropped.
 *
 * @module
 */

import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLIN,
  EPOLLONESHOT,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../abi/libc.ts";
import { errno, libc, view } from "./_ffi.ts";
import { errnoValue } from "./errno.ts";
import { SyscallError, TimeoutError } from "./error.ts";

const EINTR = errnoValue("EINTR");
const EAGAIN = errnoValue("EAGAIN");
/** Events taken by one epoll_wait; more ready fds are reported by the next call. */
const MAX_EVENTS = 256;
/** The token of the reactor's own wake-up eventfd. */
const WAKE_TOKEN = 0;
/** setTimeout's largest delay; longer timeouts are re-armed in steps. */
const MAX_TIMER_MS = 0x7fffffff;

/** Options of a wait for readiness. */
export interface ReadyOptions {
  /** Milliseconds before rejecting with `TimeoutError` (`code` `"ETIMEDOUT"`); none by default. */
  readonly timeout?: number | undefined;
  /** Rejects with `signal.reason` when aborted. */
  readonly signal?: AbortSignal | undefined;
  /** What is waited for, for messages (`eventfd 12`). */
  readonly label?: string | undefined;
}

/** Counters of the reactor, for tests and diagnostics. */
export interface ReactorStats {
  /** Whether an epoll_wait call is outstanding (never more than one). */
  readonly outstanding: boolean;
  /** Fds in the epoll set, the reactor's own eventfd not counted. */
  readonly fds: number;
  /** Pending waits. */
  readonly waits: number;
  /** epoll_wait calls made since the process started. */
  readonly calls: number;
  /** The most epoll_wait calls ever outstanding at once (1 when it works as designed). */
  readonly maxOutstanding: number;
}

interface Interest {
  readonly fd: number;
  readonly token: number;
  readonly waiters: Set<Waiter>;
  /** Whether the one-shot registration is armed (false after it fired until re-armed). */
  armed: boolean;
}

interface Waiter {
  readonly interest: Interest;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

function checkTimeout(timeout: number | undefined, what: string): void {
  if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
    throw new RangeError(`Cannot ${what} with timeout "${timeout}": it must be a non-negative number of milliseconds`);
  }
}

/**
 * The process's reactor. Get it with {@link reactor}; nothing else creates one.
 *
 * @example
 * ```ts
 * import { EventFd, reactor } from "warpdrive/sys";
 * using efd = EventFd.create();
 * setTimeout(() => efd.signal(), 10);
 * await reactor().readable(efd.fd, { timeout: 1000, label: "my eventfd" });
 * ```
 */
export class Reactor {
  #epfd = -1;
  #wakeFd = -1;
  /** The event array epoll_wait fills: mmap'd, because the worker writes it after the call returned. */
  #events: Uint8Array | undefined;
  #eventsAddress = 0n;
  #byFd = new Map<number, Interest>();
  #byToken = new Map<number, Interest>();
  #nextToken = 1;
  #waits = 0;
  #outstanding = 0;
  #maxOutstanding = 0;
  #calls = 0;
  #ctlBuf = new Uint8Array(EPOLL_EVENT_SIZE);
  #ctlView = new DataView(this.#ctlBuf.buffer);

  /** @internal Use {@link reactor}. */
  constructor() {}

  /** Counters: outstanding calls, fds, waits. */
  get stats(): ReactorStats {
    return {
      outstanding: this.#outstanding > 0,
      fds: this.#byFd.size,
      waits: this.#waits,
      calls: this.#calls,
      maxOutstanding: this.#maxOutstanding,
    };
  }

  #init(): void {
    if (this.#epfd >= 0) return;
    const ep = libc.epoll_create1(EPOLL_CLOEXEC), e1 = errno();
    if (ep < 0) throw new SyscallError(e1, { syscall: "epoll_create1", op: "reactor" });
    const wake = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), e2 = errno();
    if (wake < 0) {
      libc.close(ep);
      throw new SyscallError(e2, { syscall: "eventfd", op: "reactor wake-up" });
    }
    const len = MAX_EVENTS * EPOLL_EVENT_SIZE;
    // The event array lives for the process: the worker thread writes it while no JS call
    // is running, so it must be memory that never moves; it is never unmapped.
    const p = libc.mmap(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), e3 = errno();
    if (p === MAP_FAILED || p === null) {
      libc.close(ep);
      libc.close(wake);
      throw new SyscallError(e3, { syscall: "mmap", op: "reactor event array" });
    }
    this.#epfd = ep;
    this.#wakeFd = wake;
    this.#eventsAddress = BigInt(p);
    this.#events = new Uint8Array(view(this.#eventsAddress, len));
    this.#ctl(EPOLL_CTL_ADD, wake, EPOLLIN, WAKE_TOKEN, "reactor wake-up eventfd");
  }

  #ctl(op: number, fd: number, events: number, token: number, label: string): void {
    // Laid out by hand; the kernel copies it during the call (a JS-heap array is fine).
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_EVENT_DATA_OFFSET, token, true);
    this.#ctlView.setUint32(EPOLL_EVENT_DATA_OFFSET + 4, 0, true);
    const r = libc.epoll_ctl(this.#epfd, op, fd, op === EPOLL_CTL_DEL ? null : this.#ctlBuf), e = errno();
    if (r < 0) {
      const name = op === EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" : op === EPOLL_CTL_MOD ? "EPOLL_CTL_MOD" : "EPOLL_CTL_DEL";
      throw new SyscallError(e, { syscall: "epoll_ctl", op: `${name} fd ${fd} (${label})` });
    }
  }

  /**
   * Resolves when `fd` is readable (or reports an error or hang-up: the caller's next read
   * says which). The fd must stay open until the wait settles or {@link Reactor.cancel} is
   * called for it; closing it first leaves the wait pending until its timeout.
   *
   * @param fd The descriptor, owned by the caller.
   * @param options `timeout` (ms), `signal`, `label` for messages.
   * @throws {RangeError} A bad timeout (the promise rejects, nothing is registered).
   * @throws {TimeoutError} `ETIMEDOUT` after `timeout`.
   * @throws {SyscallError} From epoll_ctl (`EBADF` for a closed fd, `EPERM` for a regular file).
   * @throws The signal's reason when aborted, at once when it already is.
   * @example
   * ```ts
   * import { reactor } from "warpdrive/sys";
   * declare const deviceFd: number; // a device that signals readiness through poll
   * await reactor().readable(deviceFd, { timeout: 500, signal: AbortSignal.timeout(1000) });
   * ```
   */
  readable(fd: number, options: ReadyOptions = {}): Promise<void> {
    const { timeout, signal } = options;
    const label = options.label ?? `fd ${fd}`;
    try {
      checkTimeout(timeout, `wait for ${label}`);
      if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot wait for fd "${fd}": it must be a non-negative integer`);
    } catch (e) {
      return Promise.reject(e);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeout === 0) return Promise.reject(new TimeoutError(`wait for ${label}`, 0));
    let interest: Interest;
    try {
      this.#init();
      interest = this.#arm(fd, label);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { interest, resolve, reject, timer: undefined, signal, onAbort: undefined };
      interest.waiters.add(w);
      this.#waits++;
      if (timeout !== undefined && timeout !== Infinity) {
        const deadline = performance.now() + timeout;
        const arm = (ms: number): void => {
          w.timer = setTimeout(() => {
            const left = deadline - performance.now();
            if (left > 0) return arm(Math.min(left, MAX_TIMER_MS));
            this.#settle(w, new TimeoutError(`wait for ${label}`, timeout));
          }, ms);
        };
        arm(Math.min(timeout, MAX_TIMER_MS));
      }
      if (signal !== undefined) {
        w.onAbort = () => this.#settle(w, signal.reason);
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      this.#pump();
    });
  }

  #arm(fd: number, label: string): Interest {
    let it = this.#byFd.get(fd);
    if (it === undefined) {
      let token = this.#nextToken;
      while (token === WAKE_TOKEN || this.#byToken.has(token)) token = (token + 1) >>> 0;
      this.#nextToken = (token + 1) >>> 0;
      this.#ctl(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, token, label);
      it = { fd, token, waiters: new Set(), armed: true };
      this.#byFd.set(fd, it);
      this.#byToken.set(token, it);
    } else if (!it.armed) {
      this.#ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, it.token, label);
      it.armed = true;
    }
    return it;
  }

  /** Settles one wait: resolved when `error` is undefined. Forgets the fd when it was the last. */
  #settle(w: Waiter, error?: unknown, resolved = error === undefined): void {
    const it = w.interest;
    if (!it.waiters.delete(w)) return;
    this.#waits--;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
    if (it.waiters.size === 0) this.#forget(it);
    if (resolved) w.resolve();
    else w.reject(error);
  }

  #forget(it: Interest): void {
    if (this.#byFd.get(it.fd) !== it) return;
    this.#byFd.delete(it.fd);
    this.#byToken.delete(it.token);
    try {
      this.#ctl(EPOLL_CTL_DEL, it.fd, 0, it.token, "forget");
    } catch {
      // EBADF/ENOENT: the fd was closed (the kernel dropped it from the set itself).
    }
    // Nothing left to wait for: wake the worker so no call stays outstanding and the
    // process may exit.
    if (this.#byFd.size === 0 && this.#outstanding > 0) this.#wake();
  }

  #wake(): void {
    // The counter is drained by the event callback; a saturated counter already wakes it.
    libc.write(this.#wakeFd, new BigUint64Array([1n]), 8);
  }

  /**
   * Rejects every wait on `fd` with `error` and removes it from the epoll set. Call it
   * before closing an fd that may have waits.
   *
   * @param fd The descriptor about to be closed.
   * @param error What the waits reject with (a `ClosedError`).
   * @example
   * ```ts
   * import { ClosedError, EventFd, reactor } from "warpdrive/sys";
   * const efd = EventFd.create();
   * reactor().cancel(efd.fd, new ClosedError("wait", "eventfd 12"));
   * efd.close();
   * ```
   */
  cancel(fd: number, error: unknown): void {
    const it = this.#byFd.get(fd);
    if (it === undefined) return;
    for (const w of [...it.waiters]) this.#settle(w, error, false);
  }

  /** Issues the one epoll_wait when something is waited for and none is outstanding. */
  #pump(): void {
    if (this.#outstanding > 0 || this.#byFd.size === 0) return;
    this.#outstanding++;
    if (this.#outstanding > this.#maxOutstanding) this.#maxOutstanding = this.#outstanding;
    this.#calls++;
    // The event array is the reactor's own mmap'd memory (see #init); the worker writes up
    // to MAX_EVENTS entries into it before the callback runs.
    libc.epoll_waitAsync(this.#epfd, this.#eventsAddress, MAX_EVENTS, -1, (err, n) => this.#onEvents(err, n, errno()));
  }

  #failures = 0;

  #onEvents(err: unknown, n: number, e: number): void {
    this.#outstanding--;
    if (err !== null && err !== undefined) return this.#failAll(err);
    if (n < 0) {
      // EINTR (a signal handler ran on the worker) is the only expected failure; anything
      // else, repeated, fails the waits rather than spinning.
      if (e !== EINTR && ++this.#failures > 3) return this.#failAll(new SyscallError(e, { syscall: "epoll_wait", op: "reactor" }));
      return this.#pump();
    }
    this.#failures = 0;
    const ev = this.#events!;
    const dv = new DataView(ev.buffer, ev.byteOffset, ev.byteLength);
    for (let i = 0; i < n; i++) {
      const token = dv.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_EVENT_DATA_OFFSET, true);
      if (token === WAKE_TOKEN) {
        this.#drainWake();
        continue;
      }
      const it = this.#byToken.get(token);
      if (it === undefined) continue; // removed after the kernel reported it: stale
      it.armed = false;
      for (const w of [...it.waiters]) this.#settle(w);
    }
    this.#pump();
  }

  #drainWake(): void {
    const buf = new BigUint64Array(1);
    const r = libc.read(this.#wakeFd, buf, 8), e = errno();
    if (r < 0 && e !== EAGAIN) throw new SyscallError(e, { syscall: "read", op: "reactor wake-up eventfd" });
  }

  #failAll(error: unknown): void {
    for (const it of [...this.#byFd.values()]) for (const w of [...it.waiters]) this.#settle(w, error, false);
  }
}

let instance: Reactor | undefined;

/**
 * The process's one reactor (created on first use; its epoll fd, wake-up eventfd and
 * event array live as long as the process).
 *
 * @example
 * ```ts
 * console.log(reactor().stats); // { outstanding: false, fds: 0, waits: 0, ... }
 * ```
 */
export function reactor(): Reactor {
  instance ??= new Reactor();
  return instance;
}
