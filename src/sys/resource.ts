/**
 * Resource limits, and the locked-memory budget that VFIO type1 charges pinned DMA pages to.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { RLIMIT_MEMLOCK } from "../abi/libc.ts";
import { errno, libc } from "./_ffi.ts";
import { SyscallError } from "./error.ts";

/** `RLIM_INFINITY` as getrlimit returns it. */
const RLIM_INFINITY = 0xffffffffffffffffn;

/** A soft and hard limit; `Infinity` means unlimited. */
export interface ResourceLimit {
  readonly soft: number;
  readonly hard: number;
}

function limitValue(v: bigint): number {
  return v === RLIM_INFINITY ? Infinity : Number(v);
}

/**
 * getrlimit(2).
 *
 * @param resource `RLIMIT_MEMLOCK`, `RLIMIT_NOFILE`, …
 * @throws {SyscallError} EINVAL for an unknown resource.
 * @example
 * ```ts
 * import { getrlimit, RLIMIT_MEMLOCK } from "warpdrive/sys";
 *
 * getrlimit(RLIMIT_MEMLOCK).soft; // 8388608 (8 MiB) on Debian
 * ```
 */
export function getrlimit(resource: number): ResourceLimit {
  // rlim: ours, on the JS heap, filled during the call only.
  const rlim = new BigUint64Array(2);
  const r = libc.getrlimit(resource, rlim), e = errno();
  if (r < 0) throw new SyscallError(e, { syscall: "getrlimit", op: String(resource) });
  return { soft: limitValue(rlim[0]!), hard: limitValue(rlim[1]!) };
}

/** CAP_IPC_LOCK's bit in the capability sets. */
const CAP_IPC_LOCK = 14n;

/** What the kernel will check when VFIO pins memory for DMA. */
export interface MemlockStatus {
  /** RLIMIT_MEMLOCK (soft), bytes; Infinity when unlimited. */
  readonly limit: number;
  /** Bytes this process already has locked (`VmLck` of /proc/self/status). */
  readonly locked: number;
  /** The process has CAP_IPC_LOCK, so the kernel does not enforce the limit. */
  readonly exempt: boolean;
}

/**
 * The locked-memory budget: limit, already locked, and whether the limit applies at all.
 *
 * @param procStatus Contents of /proc/self/status (read when omitted; for tests).
 * @throws {SyscallError} From getrlimit.
 * @example
 * ```ts
 * import { memlockStatus } from "warpdrive/sys";
 *
 * const { limit, locked, exempt } = memlockStatus();
 * ```
 */
export function memlockStatus(procStatus?: string): MemlockStatus {
  const { soft } = getrlimit(RLIMIT_MEMLOCK);
  let status = procStatus;
  if (status === undefined) {
    try {
      status = readFileSync("/proc/self/status", "utf8");
    } catch {
      status = "";
    }
  }
  const lck = /^VmLck:\s+(\d+)\s+kB/m.exec(status);
  const cap = /^CapEff:\s+([0-9a-f]+)/m.exec(status);
  const exempt = cap !== null && ((BigInt(`0x${cap[1]}`) >> CAP_IPC_LOCK) & 1n) === 1n;
  return { limit: soft, locked: lck ? Number(lck[1]) * 1024 : 0, exempt };
}
