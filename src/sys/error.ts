/**
 * The errors of the system-call layer: `SyscallError` for every failed call, and
 * `ClosedError` for any use of an object after its `close()`.
 *
 * @module
 */

import { libc } from "./_ffi.ts";
import { errnoName } from "./errno.ts";

/** Where a failed call happened, for `SyscallError`. */
export interface SyscallContext {
  /** The libc function: `"open"`, `"ioctl"`, `"mmap"`, … */
  readonly syscall: string;
  /** The operation: the ioctl request name (`"VFIO_GROUP_SET_CONTAINER"`) or a short verb. */
  readonly op?: string | undefined;
  /** The file the fd was opened from, when there is one. */
  readonly path?: string | undefined;
  /** What to do about it, appended to the message. */
  readonly hint?: string | undefined;
  /** The error this one explains further. */
  readonly cause?: unknown;
}

function describe(errno: number): string {
  try {
    return libc.strerror(errno);
  } catch {
    return "unknown error";
  }
}

/**
 * A failed system call, shaped like Node's errno exceptions so `err.code === "ENOENT"` works.
 *
 * The message says what failed, on which file, the errno name and text, and (when the
 * layer that made the call knows) what to do:
 * `Cannot ioctl VFIO_GROUP_SET_CONTAINER on "/dev/vfio/12": EBUSY (Device or resource busy)`.
 *
 * @example
 * ```ts
 * import { Fd, O_RDWR, SyscallError } from "warpdrive/sys";
 *
 * try {
 *   Fd.open("/dev/vfio/99", O_RDWR);
 * } catch (e) {
 *   if (e instanceof SyscallError && e.code === "ENOENT") console.log(e.path);
 * }
 * ```
 */
export class SyscallError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** The errno name (`"EBUSY"`). */
  readonly code: string;
  /** The libc function that failed (`"ioctl"`). */
  readonly syscall: string;
  /** The operation (`"VFIO_GROUP_SET_CONTAINER"`), or undefined when the syscall says it all. */
  readonly op: string | undefined;
  /** The path of the file involved, when there is one. */
  readonly path: string | undefined;
  /** The advice that ends the message, if any. */
  readonly hint: string | undefined;

  constructor(errno: number, context: SyscallContext) {
    const code = errnoName(errno);
    const what = context.op === undefined ? context.syscall : `${context.syscall} ${context.op}`;
    const where = context.path === undefined ? "" : context.op === undefined ? ` "${context.path}"` : ` on "${context.path}"`;
    const hint = context.hint === undefined ? "" : `: ${context.hint}`;
    super(`Cannot ${what}${where}: ${code} (${describe(errno)})${hint}`, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "SyscallError";
    this.errno = errno;
    this.code = code;
    this.syscall = context.syscall;
    this.op = context.op;
    this.path = context.path;
    this.hint = context.hint;
  }

  /**
   * The same failure with advice added to the message (the original becomes the cause).
   *
   * @param hint What the user should do, sentence case, no final period.
   * @example
   * ```ts
   * import { Fd, O_CLOEXEC, O_RDWR, SyscallError } from "warpdrive/sys";
   *
   * try {
   *   Fd.open("/dev/vfio/12", O_RDWR | O_CLOEXEC);
   * } catch (e) {
   *   if (e instanceof SyscallError && e.code === "EBUSY") throw e.withHint("another process holds VFIO group 12");
   *   throw e;
   * }
   * ```
   */
  withHint(hint: string): SyscallError {
    return new SyscallError(this.errno, { syscall: this.syscall, op: this.op, path: this.path, hint, cause: this });
  }
}

/**
 * Any call on an object after its `close()`: the resource is gone and nothing reached libc.
 *
 * @example
 * ```ts
 * import { Container } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const device = container.openDevice("0000:00:03.0");
 * device.close();
 * device.info; // throws ClosedError: Cannot read device info: VFIO device "0000:00:03.0" is closed
 * ```
 */
export class ClosedError extends Error {
  /** Always `"ERR_CLOSED"`. */
  readonly code: "ERR_CLOSED" = "ERR_CLOSED";
  /** What was closed (`VFIO device "0000:00:03.0"`). */
  readonly resource: string;

  constructor(action: string, resource: string) {
    super(`Cannot ${action}: ${resource} is closed`);
    this.name = "ClosedError";
    this.resource = resource;
  }
}

/**
 * Runs every step of a teardown even when some fail, then reports the failures: the single
 * error when one failed, an `AggregateError` listing them all when several did.
 *
 * @param what The thing being closed, for the AggregateError message.
 * @param steps The teardown steps, in order.
 * @throws The step's error, or AggregateError when several failed.
 * @example
 * ```ts
 * import { closeAll, EventFd, Fd, O_CLOEXEC, O_RDWR } from "warpdrive/sys";
 *
 * const efd = EventFd.create();
 * const fd = Fd.open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
 * closeAll("the VFIO container", [() => efd.close(), () => fd.close()]);
 * ```
 */
export function closeAll(what: string, steps: readonly (() => void)[]): void {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      if (e instanceof AggregateError && e.message.startsWith("Cannot close")) errors.push(...e.errors);
      else errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `Cannot close ${what} cleanly: ${errors.length} steps failed`);
}

/**
 * A wait that gave up after its timeout. `code` is `"ETIMEDOUT"`, like a timed-out socket,
 * so `err.code === "ETIMEDOUT"` works for every wait of this library.
 *
 * @example
 * ```ts
 * import { EventFd, TimeoutError } from "warpdrive/sys";
 * using efd = EventFd.create();
 * try {
 *   await efd.wait({ timeout: 100 });
 * } catch (e) {
 *   if (e instanceof TimeoutError) console.log(e.code); // "ETIMEDOUT"
 * }
 * ```
 */
export class TimeoutError extends Error {
  /** Always `"ETIMEDOUT"`. */
  readonly code: "ETIMEDOUT" = "ETIMEDOUT";
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  constructor(what: string, timeout: number) {
    super(`Cannot ${what}: timed out after ${timeout} ms`);
    this.name = "TimeoutError";
    this.timeout = timeout;
  }
}
