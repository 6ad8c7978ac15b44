/**
 * The raw libc symbol table: the only file that imports koffi.
 *
 * Each binding is declared with its C prototype. No logic lives here: the typed wrappers in
 * `src/sys/` call these, check the result and read errno in the same expression.
 *
 * Pointers are bigints (koffi 3). A `void *` parameter accepts a typed array, which koffi
 * passes by address for the duration of that one call only (the array lives on the JS heap
 * and may move afterwards); memory the kernel or a device keeps using must come from mmap.
 *
 * @module
 */

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type Koffi from "koffi";

/**
 * koffi is loaded on the first system call, not at import: reading sysfs (enumerate,
 * select, `wd list`) then needs no native code, and Deno no `--allow-ffi`.
 *
 * A module read from a file requires koffi from beside itself. A module Deno fetched over
 * https (JSR) has no directory to require from; Deno resolves `koffi` to the file in its
 * npm cache, which is required by path. `inGraph` is never called: its `import()` keeps
 * koffi in the module graph Deno downloads before running.
 */
let koffiModule: typeof Koffi | undefined;
const inGraph = (): Promise<unknown> => import("koffi");
void inGraph;

function koffi(): typeof Koffi {
  if (koffiModule === undefined) {
    const here = import.meta.url;
    const loaded: { default?: typeof Koffi } & typeof Koffi = here.startsWith("file:")
      ? createRequire(here)("koffi")
      : createRequire(import.meta.resolve("koffi"))(fileURLToPath(import.meta.resolve("koffi")));
    koffiModule = loaded.default ?? loaded;
  }
  return koffiModule;
}

function loadLibc(): ReturnType<typeof Koffi.load> {
  try {
    return koffi().load("libc.so.6");
  } catch (first) {
    try {
      return koffi().load("libc.so");
    } catch {
      throw first;
    }
  }
}

/** The libc functions this library calls, with JS-side types. */
export interface Libc {
  /** `int open(const char *pathname, int flags, mode_t mode)` (variadic in C; mode always passed). */
  open(path: string, flags: number, mode: number): number;
  /** `int close(int fd)` */
  close(fd: number): number;
  /** `ssize_t read(int fd, void *buf, size_t count)` */
  read(fd: number, buf: Uint8Array | BigUint64Array, count: number): number;
  /** `ssize_t write(int fd, const void *buf, size_t count)` */
  write(fd: number, buf: Uint8Array | BigUint64Array, count: number): number;
  /** `ssize_t pread(int fd, void *buf, size_t count, off_t offset)` */
  pread(fd: number, buf: Uint8Array, count: number, offset: number | bigint): number;
  /** `ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)` */
  pwrite(fd: number, buf: Uint8Array, count: number, offset: number | bigint): number;
  /** `int ioctl(int fd, unsigned long request, void *argp)` (fixed-arity binding of the variadic ioctl) */
  ioctlPtr(fd: number, request: number, argp: Uint8Array | Int32Array): number;
  /** `int ioctl(int fd, unsigned long request, int arg)` */
  ioctlInt(fd: number, request: number, arg: number): number;
  /** `int ioctl(int fd, unsigned long request, const char *arg)` */
  ioctlStr(fd: number, request: number, arg: string): number;
  /** `void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)` */
  mmap(addr: bigint | null, length: number, prot: number, flags: number, fd: number, offset: number | bigint): bigint;
  /** `int munmap(void *addr, size_t length)` */
  munmap(addr: bigint, length: number): number;
  /** `int eventfd(unsigned int initval, int flags)` */
  eventfd(initval: number, flags: number): number;
  /** `int epoll_create1(int flags)` */
  epoll_create1(flags: number): number;
  /** `int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)` (event laid out by hand) */
  epoll_ctl(epfd: number, op: number, fd: number, event: Uint8Array | null): number;
  /**
   * `int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)` on
   * koffi's worker pool. `events` is the address of mmap'd memory: the worker thread writes
   * it after this call has returned, so a JS-heap array (which may move) must never be used.
   */
  epoll_waitAsync(epfd: number, events: bigint, maxevents: number, timeout: number, done: (err: unknown, result: number) => void): void;
  /** `int memfd_create(const char *name, unsigned int flags)` */
  memfd_create(name: string, flags: number): number;
  /** `int ftruncate(int fd, off_t length)` */
  ftruncate(fd: number, length: number | bigint): number;
  /** `int getrlimit(int resource, struct rlimit *rlim)` (rlim: two `rlim_t`, 64-bit) */
  getrlimit(resource: number, rlim: BigUint64Array): number;
  /** `long sysconf(int name)` */
  sysconf(name: number): number;
  /** `int poll(struct pollfd *fds, nfds_t nfds, int timeout)` (pollfd laid out by hand) */
  poll(fds: Uint8Array, nfds: number, timeout: number): number;
  /** `char *strerror(int errnum)` */
  strerror(errnum: number): string;
}

/** Binds every symbol of {@link Libc}; called once, by the first call through `libc`. */
function bindLibc(): Libc {
  const k = koffi();
  const lib = loadLibc();
  /** 32-bit ABIs need the explicit 64-bit-offset entry points; on 64-bit they are the same. */
  const LFS = k.sizeof("void *") === 4 ? "64" : "";
  const epollWaitFn = lib.func("int epoll_wait(int epfd, void *events, int maxevents, int timeout)");
  return {
    open: lib.func("int open(const char *pathname, int flags, uint32_t mode)"),
    close: lib.func("int close(int fd)"),
    read: lib.func("long read(int fd, void *buf, size_t count)"),
    write: lib.func("long write(int fd, const void *buf, size_t count)"),
    pread: lib.func(`long pread${LFS}(int fd, void *buf, size_t count, int64_t offset)`),
    pwrite: lib.func(`long pwrite${LFS}(int fd, const void *buf, size_t count, int64_t offset)`),
    ioctlPtr: lib.func("int ioctl(int fd, unsigned long request, void *argp)"),
    ioctlInt: lib.func("int ioctl(int fd, unsigned long request, int arg)"),
    ioctlStr: lib.func("int ioctl(int fd, unsigned long request, const char *arg)"),
    mmap: lib.func(`void *mmap${LFS}(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)`),
    munmap: lib.func("int munmap(void *addr, size_t length)"),
    eventfd: lib.func("int eventfd(unsigned int initval, int flags)"),
    epoll_create1: lib.func("int epoll_create1(int flags)"),
    epoll_ctl: lib.func("int epoll_ctl(int epfd, int op, int fd, void *event)"),
    epoll_waitAsync: epollWaitFn.async,
    memfd_create: lib.func("int memfd_create(const char *name, unsigned int flags)"),
    ftruncate: lib.func(`int ftruncate${LFS}(int fd, int64_t length)`),
    getrlimit: lib.func("int getrlimit(int resource, void *rlim)"),
    sysconf: lib.func("long sysconf(int name)"),
    poll: lib.func("int poll(void *fds, unsigned long nfds, int timeout)"),
    strerror: lib.func("const char *strerror(int errnum)"),
  };
}

const LIBC_NAMES = [
  "open", "close", "read", "write", "pread", "pwrite", "ioctlPtr", "ioctlInt", "ioctlStr", "mmap", "munmap",
  "eventfd", "epoll_create1", "epoll_ctl", "epoll_waitAsync", "memfd_create", "ftruncate", "getrlimit", "sysconf", "poll", "strerror",
] as const;
// Every symbol of Libc is named above (a compile error otherwise).
const _allNamed: Exclude<keyof Libc, typeof LIBC_NAMES[number]> extends never ? true : never = true;
void _allNamed;

/**
 * The bindings. Each starts as a stub that binds the whole table on its first call, then
 * calls the real symbol: nothing runs between that call and the caller's `errno()`.
 */
export const libc: Libc = (() => {
  const table: Record<string, unknown> = {};
  for (const name of LIBC_NAMES) {
    table[name] = (...args: unknown[]): unknown => {
      Object.assign(table, bindLibc());
      return (table[name] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return table as unknown as Libc;
})();

/** The calling thread's errno, as libc left it after the last call. */
export const errno: () => number = () => koffi().errno();

/**
 * A zero-copy `ArrayBuffer` over `len` bytes of native memory at `address`. It does not
 * know when the memory goes away: callers must detach or stop using it before unmapping.
 */
export const view: (address: bigint, len: number) => ArrayBuffer = (address, len) => koffi().view(address, len);

/** The native address of an ArrayBuffer's (or typed array's) memory. */
export const address: (value: ArrayBuffer | ArrayBufferView) => bigint = (value) => koffi().address(value);

/**
 * The optional C barrier library (`c/wd_barrier.c`, built by `scripts/build_barrier.sh`):
 * its symbols, with their C prototypes. Loaded only when asked for (`loadBarrierLib`), never
 * at import; `src/sys/barrier.ts` decides whether it is used.
 */
export interface BarrierLib {
  /** `unsigned int wd_barrier_version(void)` */
  wd_barrier_version(): number;
  /** `const char *wd_barrier_arch(void)` ("x64", "arm64" or "portable") */
  wd_barrier_arch(): string;
  /** `void wd_wmb(void)` */
  wd_wmb(): void;
  /** `void wd_rmb(void)` */
  wd_rmb(): void;
  /** `void wd_mb(void)` */
  wd_mb(): void;
  /** `void wd_doorbell32(volatile uint32_t *reg, uint32_t value)` */
  wd_doorbell32(reg: bigint, value: number): void;
  /** `void wd_doorbell64(volatile uint64_t *reg, uint64_t value)` */
  wd_doorbell64(reg: bigint, value: bigint | number): void;
}

const barrierLibs = new Map<string, BarrierLib>();

/**
 * Loads the barrier library at `path` (once per path; koffi never unloads it).
 *
 * @throws {Error} koffi's error when the file is missing, not a shared object of this
 *   machine's architecture, or lacks a symbol.
 */
export function loadBarrierLib(path: string): BarrierLib {
  const known = barrierLibs.get(path);
  if (known !== undefined) return known;
  const so = koffi().load(path);
  const bound: BarrierLib = {
    wd_barrier_version: so.func("unsigned int wd_barrier_version(void)"),
    wd_barrier_arch: so.func("const char *wd_barrier_arch(void)"),
    wd_wmb: so.func("void wd_wmb(void)"),
    wd_rmb: so.func("void wd_rmb(void)"),
    wd_mb: so.func("void wd_mb(void)"),
    wd_doorbell32: so.func("void wd_doorbell32(void *reg, uint32_t value)"),
    wd_doorbell64: so.func("void wd_doorbell64(void *reg, uint64_t value)"),
  };
  barrierLibs.set(path, bound);
  return bound;
}
