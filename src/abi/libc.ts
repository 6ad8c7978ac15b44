/**
 * The Linux/glibc constants the system-call wrappers use: `<fcntl.h>`, `<sys/mman.h>`,
 * `<sys/eventfd.h>`, `<poll.h>`, `<sys/epoll.h>`, `<sys/resource.h>`, `<unistd.h>`. Values are the
 * generic ones (x86-64, arm64, riscv64, s390x, powerpc); mips and sparc differ for a few,
 * and those are chosen by `process.arch`. Checked against the C headers of the machine by
 * `tests/unit/abi_layout.test.ts`.
 *
 * @module
 */

import process from "node:process";

const arch = process.arch as string;
const MIPS = arch.startsWith("mips");
const SPARC = arch.startsWith("sparc");

/** open(2): read only. */
export const O_RDONLY = 0;
/** open(2): write only. */
export const O_WRONLY = 1;
/** open(2): read and write. */
export const O_RDWR = 2;
/** open(2): non-blocking. */
export const O_NONBLOCK: number = MIPS ? 0x80 : SPARC ? 0x4000 : 0o4000;
/** open(2): close on exec. */
export const O_CLOEXEC: number = SPARC ? 0x400000 : 0o2000000;

/** mmap(2): no access. */
export const PROT_NONE = 0;
/** mmap(2): readable. */
export const PROT_READ = 1;
/** mmap(2): writable. */
export const PROT_WRITE = 2;
/** mmap(2): shared mapping. */
export const MAP_SHARED = 1;
/** mmap(2): private copy-on-write mapping. */
export const MAP_PRIVATE = 2;
/** mmap(2): place the mapping exactly at `addr`, replacing what was there. */
export const MAP_FIXED = 0x10;
/** mmap(2): not backed by a file. */
export const MAP_ANONYMOUS: number = MIPS ? 0x800 : 0x20;
/** mmap(2)'s failure value, `(void *) -1`, as koffi returns it (a bigint). */
export const MAP_FAILED: bigint = 0xffffffffffffffffn;

/** memfd_create(2): close on exec. */
export const MFD_CLOEXEC = 1;

/** eventfd(2): counter reads return 1 and decrement. */
export const EFD_SEMAPHORE = 1;
/** eventfd(2): close on exec (same as O_CLOEXEC). */
export const EFD_CLOEXEC: number = O_CLOEXEC;
/** eventfd(2): non-blocking (same as O_NONBLOCK). */
export const EFD_NONBLOCK: number = O_NONBLOCK;

/** poll(2): data to read. */
export const POLLIN = 0x1;
/** poll(2): error condition. */
export const POLLERR = 0x8;
/** poll(2): hang up. */
export const POLLHUP = 0x10;
/** poll(2): the fd is not open. */
export const POLLNVAL = 0x20;

/** epoll_create1(2): close on exec (same as O_CLOEXEC). */
export const EPOLL_CLOEXEC: number = O_CLOEXEC;
/** epoll_ctl(2): add an fd to the interest list. */
export const EPOLL_CTL_ADD = 1;
/** epoll_ctl(2): remove an fd from the interest list. */
export const EPOLL_CTL_DEL = 2;
/** epoll_ctl(2): change an fd's events (re-arms a one-shot fd). */
export const EPOLL_CTL_MOD = 3;
/** epoll event: data to read. */
export const EPOLLIN = 0x1;
/** epoll event: error condition. */
export const EPOLLERR = 0x8;
/** epoll event: hang up. */
export const EPOLLHUP = 0x10;
/** epoll event: report once, then disarm until EPOLL_CTL_MOD. */
export const EPOLLONESHOT: number = 1 << 30;
/**
 * `struct epoll_event` is `{ uint32_t events; epoll_data_t data; }`, packed on x86 (12
 * bytes, `data` at 4) and naturally aligned elsewhere (16 bytes, `data` at 8).
 */
export const EPOLL_EVENT_SIZE: number = arch === "x64" || arch === "ia32" ? 12 : 16;
/** Offset of `data` (a u64) in `struct epoll_event`. */
export const EPOLL_EVENT_DATA_OFFSET: number = arch === "x64" || arch === "ia32" ? 4 : 8;

/** getrlimit(2): the locked-memory limit, which VFIO type1 charges pinned DMA pages to. */
export const RLIMIT_MEMLOCK: number = MIPS ? 9 : 8;
/** getrlimit(2): the open-files limit. */
export const RLIMIT_NOFILE: number = MIPS ? 5 : SPARC ? 6 : 7;

/** sysconf(3) name of the page size (glibc). */
export const _SC_PAGESIZE = 30;

/** The constants above by name, for the C-probe test. */
export const LIBC_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_NONBLOCK,
  O_CLOEXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_FIXED,
  MAP_ANONYMOUS,
  MFD_CLOEXEC,
  EFD_SEMAPHORE,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  POLLIN,
  POLLERR,
  POLLHUP,
  POLLNVAL,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLIN,
  EPOLLERR,
  EPOLLHUP,
  EPOLLONESHOT,
  EPOLL_EVENT_SIZE,
  EPOLL_EVENT_DATA_OFFSET,
  RLIMIT_MEMLOCK,
  RLIMIT_NOFILE,
  _SC_PAGESIZE,
});
