/**
 * poll(2) on one descriptor: a look at its readiness without waiting (`pollNow`), what a
 * driver's `poll` file operation reports right now (a UACCE queue with completions, an
 * eventfd with a count); or a wait that blocks the calling thread (`pollBlocking`), for a
 * thread given to a data path. Waiting without blocking belongs to the reactor
 * (`reactor().readable`), which never blocks the JavaScript thread.
 *
 * @module
 */

import { errno, libc } from "./_ffi.ts";
import { errnoValue } from "./errno.ts";
import { SyscallError } from "./error.ts";
import type { CallContext } from "./fd.ts";

const EINTR = errnoValue("EINTR");

/** The longest single poll(2) of `pollBlocking` (ms): its timeout is an int. */
const POLL_MAX_MS = 0x7fffffff;

/** A `struct pollfd { int fd; short events; short revents; }` for `fd`, in the machine's byte order. */
function pollfd(fd: number, events: number): [Uint8Array, Uint16Array] {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot poll file descriptor "${fd}": it must be a non-negative integer`);
  if (!Number.isInteger(events) || events < 0 || events > 0xffff) {
    throw new RangeError(`Cannot poll for events "${events}": they must be a 16-bit mask such as POLLIN`);
  }
  const buf = new Uint8Array(8);
  new Int32Array(buf.buffer, 0, 1)[0] = fd;
  const shorts = new Uint16Array(buf.buffer, 4, 2);
  shorts[0] = events;
  return [buf, shorts];
}

/**
 * The events `fd` reports now: poll(2) on one `struct pollfd` with a timeout of 0.
 *
 * @param fd The descriptor.
 * @param events `POLLIN`, … (POLLERR, POLLHUP and POLLNVAL are always reported).
 * @param ctx Names the operation and path in errors.
 * @returns The `revents` bits: 0 when nothing is ready, `POLLNVAL` for a descriptor that is not open.
 * @throws {RangeError} When `fd` is not a non-negative integer or `events` not a 16-bit mask.
 * @throws {SyscallError} When poll fails (ENOMEM).
 * @example
 * ```ts
 * import { EventFd, POLLIN, pollNow } from "warpdrive/sys";
 *
 * using efd = EventFd.create();
 * pollNow(efd.fd, POLLIN); // 0
 * efd.signal();
 * pollNow(efd.fd, POLLIN); // POLLIN
 * ```
 */
export function pollNow(fd: number, events: number, ctx?: CallContext): number {
  const [buf, shorts] = pollfd(fd, events);
  const r = libc.poll(buf, 1, 0);
  const e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "poll", op: ctx?.op, path: ctx?.path });
  return r === 0 ? 0 : (shorts[1] ?? 0);
}

/**
 * Blocks the calling thread in poll(2) until `fd` reports one of `events` or `timeout` ms
 * pass (a signal's interruption, EINTR, polls again for what is left). The thread runs
 * nothing else meanwhile, the event loop included: for a thread given to a data path (a
 * Worker), as a C client sleeps; elsewhere wait in the reactor (`reactor().readable`).
 *
 * @param fd The descriptor.
 * @param events `POLLIN`, … (POLLERR, POLLHUP and POLLNVAL are always reported).
 * @param timeout Milliseconds, `Infinity` for no limit (rounded up to whole ms).
 * @param ctx Names the operation and path in errors.
 * @returns The `revents` bits; 0 when the time passed first.
 * @throws {RangeError} For a bad `fd`, `events` or `timeout`.
 * @throws {SyscallError} When poll fails (ENOMEM).
 * @example
 * ```ts
 * import { EventFd, POLLIN, pollBlocking } from "warpdrive/sys";
 *
 * using efd = EventFd.create();
 * pollBlocking(efd.fd, POLLIN, 5); // 0, after 5 ms
 * efd.signal();
 * pollBlocking(efd.fd, POLLIN, 5); // POLLIN, at once
 * ```
 */
export function pollBlocking(fd: number, events: number, timeout: number, ctx?: CallContext): number {
  if (!(typeof timeout === "number" && timeout >= 0)) {
    throw new RangeError(`Cannot poll file descriptor ${fd} with timeout ${JSON.stringify(timeout)}: it must be a non-negative number of milliseconds`);
  }
  const [buf, shorts] = pollfd(fd, events);
  const deadline = performance.now() + timeout;
  for (let left = timeout;;) {
    const r = libc.poll(buf, 1, Math.min(POLL_MAX_MS, Math.ceil(left)));
    const e = errno();
    if (r > 0) return shorts[1] ?? 0;
    if (r < 0 && e !== EINTR) throw new SyscallError(e, { syscall: "poll", op: ctx?.op, path: ctx?.path });
    left = deadline - performance.now();
    if (r === 0 && left <= 0) return 0;
    if (left < 0) left = 0;
  }
}
