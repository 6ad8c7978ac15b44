/**
 * poll(2) on one descriptor, for a look at its readiness without waiting: what a driver's
 * `poll` file operation reports right now (a UACCE queue with completions, an eventfd
 * with a count). Waiting for readiness belongs to the reactor (`reactor().readable`),
 * which never blocks the JavaScript thread.
 *
 * @module
 */

import { errno, libc } from "./_ffi.ts";
import { SyscallError } from "./error.ts";
import type { CallContext } from "./fd.ts";

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
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot poll file descriptor "${fd}": it must be a non-negative integer`);
  if (!Number.isInteger(events) || events < 0 || events > 0xffff) {
    throw new RangeError(`Cannot poll for events "${events}": they must be a 16-bit mask such as POLLIN`);
  }
  // struct pollfd { int fd; short events; short revents; }, in the machine's byte order.
  const buf = new Uint8Array(8);
  new Int32Array(buf.buffer, 0, 1)[0] = fd;
  const shorts = new Uint16Array(buf.buffer, 4, 2);
  shorts[0] = events;
  const r = libc.poll(buf, 1, 0);
  const e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "poll", op: ctx?.op, path: ctx?.path });
  return r === 0 ? 0 : (shorts[1] ?? 0);
}
