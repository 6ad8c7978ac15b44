/**
 * The memory-mapping system calls: mmap, munmap, memfd_create, ftruncate and the page size,
 * each checked, with errno kept in the error it throws; and the two ways a closed mapping
 * lets go of its memory (detaching its buffer, or retiring the range until the last view of
 * it is collected). `MappedMemory` (mman.ts) builds on them.
 *
 * @module
 */

import { statSync } from "node:fs";
import { MAP_FAILED, _SC_PAGESIZE } from "../abi/libc.ts";
import { errno, libc } from "./_ffi.ts";
import { SyscallError } from "./error.ts";
import type { CallContext } from "./fd.ts";

/**
 * mmap(2).
 *
 * @returns The address, as a bigint.
 * @throws {SyscallError} When mmap returns MAP_FAILED (the all-ones bigint), with errno.
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mmap, PROT_READ, PROT_WRITE } from "warpdrive/sys";
 *
 * const p = mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * ```
 */
export function mmap(
  addr: bigint | null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
  ctx?: CallContext,
): bigint {
  const p = libc.mmap(addr, length, prot, flags, fd, offset), e = errno();
  if (p === MAP_FAILED || p === null) throw new SyscallError(e, { syscall: "mmap", op: ctx?.op, path: ctx?.path });
  return BigInt(p);
}

/**
 * munmap(2).
 *
 * @throws {SyscallError} EINVAL for a bad range.
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mmap, munmap, PROT_READ, PROT_WRITE } from "warpdrive/sys";
 *
 * const p = mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * munmap(p, 4096);
 * ```
 */
export function munmap(addr: bigint, length: number, ctx?: CallContext): void {
  const r = libc.munmap(addr, length), e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "munmap", op: ctx?.op, path: ctx?.path });
}

let cachedPageSize = 0;

/**
 * The system page size (sysconf(_SC_PAGESIZE)), cached.
 *
 * @throws {SyscallError} If sysconf fails (it does not on Linux).
 * @example
 * ```ts
 * import { pageSize } from "warpdrive/sys";
 *
 * pageSize(); // 4096
 * ```
 */
export function pageSize(): number {
  if (cachedPageSize === 0) {
    const r = libc.sysconf(_SC_PAGESIZE), e = errno();
    if (r <= 0) throw new SyscallError(e, { syscall: "sysconf", op: "_SC_PAGESIZE" });
    cachedPageSize = Number(r);
  }
  return cachedPageSize;
}

/**
 * memfd_create(2): an anonymous file in memory.
 *
 * @returns The fd (caller owns it).
 * @throws {SyscallError} EMFILE, ENOMEM, …
 * @example
 * ```ts
 * import { memfdCreate, MFD_CLOEXEC } from "warpdrive/sys";
 *
 * const fd = memfdCreate("region", MFD_CLOEXEC);
 * ```
 */
export function memfdCreate(name: string, flags: number): number {
  const r = libc.memfd_create(name, flags), e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "memfd_create", op: name });
  return r;
}

/**
 * ftruncate(2).
 *
 * @throws {SyscallError} EINVAL, EBADF, …
 * @example
 * ```ts
 * import { ftruncate, memfdCreate, MFD_CLOEXEC } from "warpdrive/sys";
 *
 * const fd = memfdCreate("region", MFD_CLOEXEC);
 * ftruncate(fd, 8192);
 * ```
 */
export function ftruncate(fd: number, length: number, ctx?: CallContext): void {
  const r = libc.ftruncate(fd, length), e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "ftruncate", op: ctx?.op, path: ctx?.path });
}

/** Rounds `n` up to a multiple of the page size. */
export function roundUpToPage(n: number): number {
  const p = pageSize();
  return Math.ceil(n / p) * p;
}

/**
 * The size of the file behind `fd` when it is a regular file (memfds are), else undefined.
 * Read through `/proc/self/fd`, which every runtime's `node:fs` can stat; when that is not
 * possible the check is skipped, as for device fds.
 */
export function regularFileSize(fd: number): number | undefined {
  try {
    const st = statSync(`/proc/self/fd/${fd}`);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this runtime can detach an ArrayBuffer over native memory (Bun, Deno; not Node 20). */
export function detach(ab: ArrayBuffer): boolean {
  const transfer = (ab as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer }).transfer;
  if (typeof transfer !== "function") return false;
  try {
    transfer.call(ab, 0);
  } catch {
    return false;
  }
  return ab.byteLength === 0;
}

/**
 * Ranges retired in place of an unmap (Node 20: views cannot be detached), keyed by the
 * ArrayBuffer every view of the range shares. Once that buffer is collected no view can
 * reach the range any more, so it is unmapped then and the address space comes back.
 * Nothing live is ever unmapped here: the range already holds only retired zeros.
 */
export const retiredRanges: FinalizationRegistry<{ readonly address: bigint; readonly size: number }> | undefined =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((r) => {
      try {
        munmap(r.address, r.size, { op: "release a retired range" });
      } catch {
        // Nothing to report to: the range stays retired, harmless.
      }
    })
    : undefined;
