/**
 * File-descriptor system calls (open, close, read, write, pread, pwrite, ioctl) with checked
 * results, `ioctlErrno` for probes whose failure is an answer, and `Fd`, an owned
 * descriptor that refuses use after close.
 *
 * These wrappers keep the shape of the C calls (fd, buffer, offset, then a context object
 * naming the operation and path for the error), so call sites read like the C they replace.
 *
 * @module
 */

import { errno, libc } from "./_ffi.ts";
import { ClosedError, SyscallError } from "./error.ts";

/** What a failed call was doing, for its `SyscallError`. */
export interface CallContext {
  /** The operation (ioctl request name or a verb). */
  readonly op?: string | undefined;
  /** The path the fd was opened from. */
  readonly path?: string | undefined;
}

/** An ioctl argument: a buffer laid out by hand, an int passed by value, a string, or none. */
export type IoctlArg = Uint8Array | Int32Array | number | string | undefined;

/** Anything that answers ioctls: an `Fd`, or a fake in tests. */
export interface IoctlTarget {
  /**
   * Makes one ioctl call.
   *
   * @returns The non-negative result.
   * @throws {SyscallError} When the call fails.
   */
  ioctl(request: number, arg: IoctlArg, op: string): number;
}

function fail(e: number, syscall: string, ctx: CallContext | undefined): SyscallError {
  return new SyscallError(e, { syscall, op: ctx?.op, path: ctx?.path });
}

/**
 * open(2).
 *
 * @param path The file.
 * @param flags `O_RDWR | O_CLOEXEC`, …
 * @param mode Permission bits for created files.
 * @returns The new fd.
 * @throws {SyscallError} ENOENT, EACCES, EBUSY, … with `path` set.
 * @example
 * ```ts
 * import { O_CLOEXEC, O_RDWR } from "warpdrive/sys";
 *
 * const fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
 * ```
 */
export function open(path: string, flags: number, mode = 0): number {
  const r = libc.open(path, flags, mode), e = errno();
  if (r < 0) throw fail(e, "open", { path });
  return r;
}

/**
 * close(2). On Linux the fd is released even when close reports an error.
 *
 * @throws {SyscallError} EBADF, EIO, …
 * @example
 * ```ts
 * import { O_CLOEXEC, O_RDWR } from "warpdrive/sys";
 *
 * const fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
 * close(fd, { path: "/dev/vfio/vfio" });
 * ```
 */
export function close(fd: number, ctx?: CallContext): void {
  const r = libc.close(fd), e = errno();
  if (r < 0) throw fail(e, "close", ctx);
}

/**
 * read(2) into `buf`.
 *
 * @returns The number of bytes read.
 * @throws {SyscallError} EAGAIN, EBADF, …
 * @example
 * ```ts
 * import { EventFd } from "warpdrive/sys";
 *
 * using efd = EventFd.create({ initval: 1 });
 * const n = read(efd.fd, new Uint8Array(8)); // 8
 * ```
 */
export function read(fd: number, buf: Uint8Array, ctx?: CallContext): number {
  // buf: caller's JS-heap array, written by the kernel during this call only.
  const r = libc.read(fd, buf, buf.byteLength), e = errno();
  if (r < 0) throw fail(e, "read", ctx);
  return r;
}

/**
 * write(2) from `buf`.
 *
 * @returns The number of bytes written.
 * @throws {SyscallError} EAGAIN, EBADF, …
 * @example
 * ```ts
 * import { EventFd } from "warpdrive/sys";
 *
 * using efd = EventFd.create();
 * write(efd.fd, new Uint8Array(new BigUint64Array([1n]).buffer));
 * ```
 */
export function write(fd: number, buf: Uint8Array, ctx?: CallContext): number {
  // buf: caller's JS-heap array, read by the kernel during this call only.
  const r = libc.write(fd, buf, buf.byteLength), e = errno();
  if (r < 0) throw fail(e, "write", ctx);
  return r;
}

/**
 * pread(2): reads `buf.byteLength` bytes at `offset` (short reads are returned as such).
 *
 * @returns The number of bytes read.
 * @throws {SyscallError} EINVAL, EIO, EFAULT, …
 * @example
 * ```ts
 * import { Container, VFIO_PCI_CONFIG_REGION_INDEX } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const device = container.openDevice("0000:00:03.0");
 * const configOffset = device.regionInfo(VFIO_PCI_CONFIG_REGION_INDEX).offset;
 * pread(device.fd, new Uint8Array(4), configOffset); // vendor and device ID
 * ```
 */
export function pread(fd: number, buf: Uint8Array, offset: number, ctx?: CallContext): number {
  // buf: caller's JS-heap array, written during this call only.
  const r = libc.pread(fd, buf, buf.byteLength, offset), e = errno();
  if (r < 0) throw fail(e, "pread", ctx);
  return r;
}

/**
 * pwrite(2): writes `buf` at `offset`.
 *
 * @returns The number of bytes written.
 * @throws {SyscallError} EINVAL, EIO, …
 * @example
 * ```ts
 * declare const deviceFd: number; // a VFIO device
 * declare const configOffset: number; // where its PCI config region starts
 * pwrite(deviceFd, new Uint8Array([4, 0]), configOffset + 4); // command: bus master
 * ```
 */
export function pwrite(fd: number, buf: Uint8Array, offset: number, ctx?: CallContext): number {
  // buf: caller's JS-heap array, read during this call only.
  const r = libc.pwrite(fd, buf, buf.byteLength, offset), e = errno();
  if (r < 0) throw fail(e, "pwrite", ctx);
  return r;
}

/**
 * ioctl(2) through one of three fixed-arity bindings: a pointer to a byte buffer (the
 * buffer lives on the JS heap and is only used by the kernel during this call), an int by
 * value, or a string.
 *
 * @param fd The descriptor.
 * @param request The request number (`VFIO_DEVICE_GET_INFO`, …).
 * @param arg The argument; undefined passes 0.
 * @param ctx The operation name and path for the error.
 * @returns The non-negative result.
 * @throws {SyscallError} With `syscall` "ioctl" and `op` from `ctx`.
 * @example
 * ```ts
 * import { Fd, ioctl, O_CLOEXEC, O_RDWR } from "warpdrive/sys";
 * import { VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU } from "warpdrive/vfio";
 *
 * using containerFd = Fd.open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
 * ioctl(containerFd.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU, { op: "VFIO_CHECK_EXTENSION" });
 * ```
 */
export function ioctl(fd: number, request: number, arg: IoctlArg, ctx?: CallContext): number {
  let r: number, e: number;
  // A buffer argument is the caller's JS-heap array; the kernel uses it during this call only.
  if (typeof arg === "string") (r = libc.ioctlStr(fd, request, arg)), (e = errno());
  else if (typeof arg === "number" || arg === undefined) (r = libc.ioctlInt(fd, request, arg ?? 0)), (e = errno());
  else (r = libc.ioctlPtr(fd, request, arg)), (e = errno());
  if (r < 0) throw fail(e, "ioctl", ctx);
  return r;
}

/**
 * ioctl(2) that reports failure as a number instead of an exception: 0 when the call
 * succeeded (its non-negative result is dropped), else the errno it failed with. No error
 * object and no message are made, so a probe whose failure is the expected answer (a
 * second `UACCE_CMD_START_Q`: EINVAL while the queue lives) costs one system call and
 * nothing else. errno is read in the same expression as the call, before anything else
 * can run. The argument is passed as by {@link ioctl}.
 *
 * @param fd The descriptor.
 * @param request The request number.
 * @param arg The argument; undefined passes 0.
 * @returns 0 on success, else the positive errno (`EBADF`, `ENOTTY`, `EINVAL`, …).
 * @example
 * ```ts
 * import { errnoName, ioctlErrno, memfdCreate, MFD_CLOEXEC } from "warpdrive/sys";
 *
 * const fd = memfdCreate("probe", MFD_CLOEXEC);
 * const e = ioctlErrno(fd, 0x5401); // TCGETS (x86, Arm) on a file that is not a terminal
 * if (e !== 0) console.log(errnoName(e)); // "ENOTTY"
 * ```
 */
export function ioctlErrno(fd: number, request: number, arg?: IoctlArg): number {
  let r: number, e: number;
  // A buffer argument is the caller's JS-heap array; the kernel uses it during this call only.
  if (typeof arg === "string") (r = libc.ioctlStr(fd, request, arg)), (e = errno());
  else if (typeof arg === "number" || arg === undefined) (r = libc.ioctlInt(fd, request, arg ?? 0)), (e = errno());
  else (r = libc.ioctlPtr(fd, request, arg)), (e = errno());
  return r < 0 ? e : 0;
}

/** Closes fds whose owner was garbage-collected without `close()`: a safety net only. */
const leaked = new FinalizationRegistry<number>((fd) => {
  libc.close(fd);
});

/**
 * An owned file descriptor: every call checks it is still open, failures carry the path,
 * and `close()` is idempotent.
 *
 * @example
 * ```ts
 * import { Fd, O_CLOEXEC, O_RDWR } from "warpdrive/sys";
 * import { VFIO_GET_API_VERSION } from "warpdrive/vfio";
 *
 * using fd = Fd.open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
 * fd.ioctl(VFIO_GET_API_VERSION, undefined, "VFIO_GET_API_VERSION"); // 0
 * ```
 */
export class Fd implements IoctlTarget {
  #fd: number;
  #path: string | undefined;
  #label: string;
  #closed = false;

  private constructor(fd: number, path: string | undefined, label: string) {
    this.#fd = fd;
    this.#path = path;
    this.#label = label;
    leaked.register(this, fd, this);
  }

  /**
   * Opens a file.
   *
   * @param path The file.
   * @param flags Open flags (`O_RDWR | O_CLOEXEC`).
   * @param options `label` names the fd in "is closed" errors; `mode` for created files.
   * @throws {SyscallError} From open(2), with `path`.
   * @example
   * ```ts
   * import { Fd, O_CLOEXEC, O_RDWR } from "warpdrive/sys";
   *
   * const fd = Fd.open("/dev/vfio/12", O_RDWR | O_CLOEXEC, { label: "VFIO group 12" });
   * ```
   */
  static open(path: string, flags: number, options: { readonly mode?: number; readonly label?: string } = {}): Fd {
    const fd = open(path, flags, options.mode ?? 0);
    return new Fd(fd, path, options.label ?? `file "${path}"`);
  }

  /**
   * Takes ownership of a descriptor obtained elsewhere (an ioctl result, eventfd, memfd).
   *
   * @param fd The descriptor, which this object will close.
   * @param options `path` for errors, `label` for "is closed" errors.
   * @throws {RangeError} When `fd` is not a non-negative integer.
   * @example
   * ```ts
   * import { Fd } from "warpdrive/sys";
   * import { VFIO_GROUP_GET_DEVICE_FD } from "warpdrive/vfio";
   *
   * declare const groupFd: Fd; // a VFIO group in a container whose IOMMU is set
   * const name = "0000:00:03.0";
   * const dev = Fd.adopt(groupFd.ioctl(VFIO_GROUP_GET_DEVICE_FD, name, "VFIO_GROUP_GET_DEVICE_FD"), { label: "device" });
   * ```
   */
  static adopt(fd: number, options: { readonly path?: string; readonly label: string }): Fd {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot adopt file descriptor "${fd}": it must be a non-negative integer`);
    return new Fd(fd, options.path, options.label);
  }

  #check(action: string): number {
    if (this.#closed) throw new ClosedError(action, this.#label);
    return this.#fd;
  }

  /**
   * The raw descriptor number.
   *
   * @throws {ClosedError} After close.
   */
  get fd(): number {
    return this.#check("use file descriptor");
  }

  /** The path the fd was opened from, if any. */
  get path(): string | undefined {
    return this.#path;
  }

  /** What this fd is, for messages (`VFIO group 12`). */
  get label(): string {
    return this.#label;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * ioctl on this fd (see the free function `ioctl`).
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} When the ioctl fails, with this fd's path.
   */
  ioctl(request: number, arg: IoctlArg, op: string): number {
    return ioctl(this.#check(op), request, arg, { op, path: this.#path });
  }

  /**
   * read(2) into `buf`.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} When the read fails.
   */
  read(buf: Uint8Array, op?: string): number {
    return read(this.#check(op ?? "read"), buf, { op, path: this.#path });
  }

  /**
   * write(2) from `buf`.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} When the write fails.
   */
  write(buf: Uint8Array, op?: string): number {
    return write(this.#check(op ?? "write"), buf, { op, path: this.#path });
  }

  /**
   * pread(2) at `offset`.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} When the read fails.
   */
  pread(buf: Uint8Array, offset: number, op?: string): number {
    return pread(this.#check(op ?? "pread"), buf, offset, { op, path: this.#path });
  }

  /**
   * pwrite(2) at `offset`.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} When the write fails.
   */
  pwrite(buf: Uint8Array, offset: number, op?: string): number {
    return pwrite(this.#check(op ?? "pwrite"), buf, offset, { op, path: this.#path });
  }

  /**
   * Closes the descriptor; later calls do nothing. The fd is released even when close(2)
   * reports an error, which is then thrown once.
   *
   * @throws {SyscallError} From close(2) (EIO, …), the first time only.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    leaked.unregister(this);
    close(this.#fd, { path: this.#path });
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
