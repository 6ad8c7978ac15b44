/**
 * The system-call layer: libc through koffi, with every result checked.
 *
 * - `SyscallError` is the one error of a failed call (`errno`, `code` like `"EBUSY"`,
 *   `syscall`, `op`, `path`); `ClosedError` is any use of an object after `close()`.
 * - `Fd` owns a descriptor (ioctl, read, write, pread, pwrite; idempotent close).
 * - `MappedMemory` is a mapping with checked 8/16/32/64-bit accessors and typed-array views
 *   that are invalidated when it is closed.
 * - `EventFd` is an eventfd with an awaitable `wait({ timeout, signal })`.
 * - `reactor()` is the process's one epoll reactor, where every wait of the library sleeps
 *   (one koffi async call at most, whatever the number of waits).
 * - `_IO`/`_IOR`/`_IOW`/`_IOWR` compute ioctl numbers for the machine's architecture.
 *
 * @example
 * ```ts
 * import { EventFd, MappedMemory } from "warpdrive/sys";
 * using mem = MappedMemory.anonymous(4096);
 * mem.write32(0, 1);
 * using efd = EventFd.create();
 * efd.signal();
 * await efd.wait({ timeout: 100 });
 * ```
 *
 * @module
 */

export { SyscallError, ClosedError, TimeoutError, closeAll, type SyscallContext } from "./error.ts";
export { errnoName, errnoValue, errorCode } from "./errno.ts";
export { Fd, ioctl, ioctlErrno, type CallContext, type IoctlArg, type IoctlTarget } from "./fd.ts";
export { MappedMemory, mmap, munmap, pageSize, roundUpToPage, memfdCreate, ftruncate, type MapFileOptions } from "./mman.ts";
export { EventFd, type WaitOptions } from "./eventfd.ts";
export { pollBlocking, pollNow } from "./poll.ts";
export { reactor, Reactor, type ReactorStats, type ReadyOptions } from "./reactor.ts";
export {
  type BarrierBackend,
  barrierInfo,
  type BarrierInfo,
  type BarrierOptions,
  type BarrierPreference,
  configureBarrier,
  type Doorbell32,
  type Doorbell64,
  doorbell32,
  doorbell64,
} from "./barrier.ts";
export { getrlimit, memlockStatus, type ResourceLimit, type MemlockStatus } from "./resource.ts";
export {
  _IO,
  _IOR,
  _IOW,
  _IOWR,
  _IOC,
  IOCTL_LAYOUT,
  IOCTL_LAYOUT_GENERIC,
  IOCTL_LAYOUT_PPC_MIPS_SPARC,
  ioctlLayoutFor,
  type IoctlLayout,
} from "../abi/ioctl.ts";
export * from "../abi/libc.ts";
