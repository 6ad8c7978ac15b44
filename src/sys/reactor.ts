/**
 * The reactor: one epoll instance that serves every awaited fd of the process (eventfds,
 * VFIO interrupt eventfds, device fds that signal readiness through poll), with at most
 * one koffi async call outstanding whatever the number of waits.
 *
 * The one call is `epoll_wait` with no timeout, on koffi's worker pool. Waits add their fd
 * to the epoll set with `EPOLL_CTL_ADD` from the JS thread (the kernel lets another thread
 * change the set while one blocks in `epoll_wait`, and wakes it when a new fd is ready),
 * one-shot, so a ready fd is reported once until a wait re-arms it. Timeouts are timers,
 * aborts are listeners. When the last pending wait goes, a private eventfd wakes the worker
 * and no call is made again: an idle reactor leaves nothing that keeps the process alive.
 *
 * An fd whose registration fired (one-shot disarmed it) and resolved its waits lingers in
 * the set, for the next wait to re-arm with one `EPOLL_CTL_MOD` rather than an ADD now and
 * a DEL later. Disarmed, it can report nothing for a file that reuses its number; an fd whose
 * last wait leaves while armed (timeout, abort) is removed at once, as is a cancelled one; at
 * most {@link MAX_LINGERING} linger. When a closed fd's number was reused, the MOD fails
 * (ENOENT) and the fd is added afresh.
 *
 * Events name a token, never the fd, so an event collected for an fd that was removed
 * (and whose number was reused) meanwhile is recognised as stale and dropped.
 *
 * @module
 */

import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_EVENT_DATA_OFFSET } from "../abi/libc.ts";
import { EPOLL_EVENT_SIZE, EPOLLIN, EPOLLONESHOT, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../abi/libc.ts";
import { errno, libc, view } from "./_ffi.ts";
import { errnoValue } from "./errno.ts";
import { SyscallError, TimeoutError } from "./error.ts";

const EINTR = errnoValue("EINTR");
const EAGAIN = errnoValue("EAGAIN");
const ENOENT = errnoValue("ENOENT"), EBADF = errnoValue("EBADF");
/** Events taken by one epoll_wait; more ready fds are reported by the next call. */
const MAX_EVENTS = 256;
/** The token of the reactor's own wake-up eventfd. */
const WAKE_TOKEN = 0;
/** setTimeout's largest delay; longer timeouts are re-armed in steps. */
const MAX_TIMER_MS = 0x7fffffff;
/**
 * The most fds lingering in the epoll set with no wait (see the module's notes); past it the
 * one lingering longest is removed. A bound, so waits on many short-lived fds leave no trail.
 */
export const MAX_LINGERING = 64;
const CTL_NAMES = ["", "EPOLL_CTL_ADD", "EPOLL_CTL_DEL", "EPOLL_CTL_MOD"] as const;

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
  /**
   * Fds in the epoll set (its own eventfd not counted), with pending waits or lingering; one
   * leaves it when cancelled (as `EventFd.close` and a queue's release do) or its last wait leaves armed.
   */
  readonly fds: number;
  /** Of `fds`, those with no pending wait, disarmed until a wait re-arms them (at most {@link MAX_LINGERING}). */
  readonly lingering: number;
  /** Pending waits. */
  readonly waits: number;
  /** epoll_ctl calls made since the process started (failed ones too), by operation. */
  readonly ctlCalls: { readonly add: number; readonly mod: number; readonly del: number };
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
  /** The lingering interests (no waiter, disarmed), the one lingering longest first. */
  #lingering = new Map<number, Interest>();
  #ctlCalls = [0, 0, 0, 0]; // by op (EPOLL_CTL_ADD, _DEL, _MOD are 1, 2, 3)
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
      lingering: this.#lingering.size,
      waits: this.#waits,
      ctlCalls: { add: this.#ctlCalls[EPOLL_CTL_ADD]!, mod: this.#ctlCalls[EPOLL_CTL_MOD]!, del: this.#ctlCalls[EPOLL_CTL_DEL]! },
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
    const e4 = this.#ctl(EPOLL_CTL_ADD, wake, EPOLLIN, WAKE_TOKEN);
    if (e4 !== 0) throw ctlError(EPOLL_CTL_ADD, wake, "reactor wake-up eventfd", e4);
  }

  /** One epoll_ctl; returns 0, or the errno for the caller to judge. */
  #ctl(op: number, fd: number, events: number, token: number): number {
    // Laid out by hand; the kernel copies it during the call (a JS-heap array is fine).
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_EVENT_DATA_OFFSET, token, true);
    this.#ctlView.setUint32(EPOLL_EVENT_DATA_OFFSET + 4, 0, true);
    this.#ctlCalls[op]!++;
    const r = libc.epoll_ctl(this.#epfd, op, fd, op === EPOLL_CTL_DEL ? null : this.#ctlBuf), e = errno();
    return r < 0 ? e : 0;
  }

  /**
   * Resolves when `fd` is readable (or reports an error or hang-up: the caller's next read
   * says which). The fd must stay open until the wait settles or {@link Reactor.cancel} is
   * called for it; closing it first leaves the wait pending until its timeout. Once the wait
   * settled it may be closed without cancel (cancel takes it out of the epoll set at once).
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
    const old = this.#byFd.get(fd);
    if (old?.armed) return old;
    if (old !== undefined) {
      const e = this.#ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, old.token);
      if (e === 0) {
        old.armed = true;
        this.#lingering.delete(fd);
        return old;
      }
      // Closed without cancel: ENOENT when the number names another file now (the old
      // registration is gone, or lives on disarmed under the old file), EBADF when closed.
      // Add it afresh: a new file gets a new token, a closed fd ADD's EBADF.
      if (e !== ENOENT && e !== EBADF) throw ctlError(EPOLL_CTL_MOD, fd, label, e);
      this.#drop(old);
    }
    let token = this.#nextToken;
    while (token === WAKE_TOKEN || this.#byToken.has(token)) token = (token + 1) >>> 0;
    this.#nextToken = (token + 1) >>> 0;
    const e = this.#ctl(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, token);
    if (e !== 0) throw ctlError(EPOLL_CTL_ADD, fd, label, e);
    const it: Interest = { fd, token, waiters: new Set(), armed: true };
    this.#byFd.set(fd, it);
    this.#byToken.set(token, it);
    return it;
  }

  /** Settles one wait: resolved when `error` is undefined. The fd's last lingers if disarmed, else it is removed. */
  #settle(w: Waiter, error?: unknown, resolved = error === undefined): void {
    const it = w.interest;
    if (!it.waiters.delete(w)) return;
    this.#waits--;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
    if (it.waiters.size === 0) {
      if (!it.armed) this.#linger(it);
      else this.#forget(it);
    }
    if (this.#waits === 0 && this.#outstanding > 0) this.#wake(); // so no call stays outstanding (see #pump)
    if (resolved) w.resolve();
    else w.reject(error);
  }

  #linger(it: Interest): void {
    this.#lingering.set(it.fd, it);
    if (this.#lingering.size > MAX_LINGERING) this.#forget(this.#lingering.values().next().value!);
  }

  /** Removes the fd from the epoll set and forgets it (#drop only forgets it). */
  #forget(it: Interest): void {
    if (this.#byFd.get(it.fd) !== it) return;
    this.#drop(it);
    this.#ctl(EPOLL_CTL_DEL, it.fd, 0, it.token); // EBADF, ENOENT: closed, the kernel dropped it
  }

  #drop(it: Interest): void {
    this.#byFd.delete(it.fd);
    this.#byToken.delete(it.token);
    this.#lingering.delete(it.fd);
  }

  #wake(): void {
    // The counter is drained by the event callback; a saturated counter already wakes it.
    libc.write(this.#wakeFd, new BigUint64Array([1n]), 8);
  }

  /**
   * Rejects every wait on `fd` with `error` and removes it from the epoll set (a lingering
   * fd too). Call it before closing an fd that may have waits or have had them.
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
    this.#forget(it);
  }

  /** Issues the one epoll_wait when a wait is pending (lingering fds alone keep none) and none is outstanding. */
  #pump(): void {
    if (this.#outstanding > 0 || this.#waits === 0) return;
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

function ctlError(op: number, fd: number, label: string, e: number): SyscallError {
  return new SyscallError(e, { syscall: "epoll_ctl", op: `${CTL_NAMES[op]} fd ${fd} (${label})` });
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
