// SPDX-License-Identifier: MIT
/*
 * wd_barrier: the memory barriers of the doorbell path, for user-space drivers
 * written in JavaScript, which has no fence of its own for device memory.
 *
 * Optional. `bash scripts/build_barrier.sh` compiles it into
 * .cache/wd_barrier/linux-<arch>/libwd_barrier.so; src/sys/barrier.ts loads it
 * through koffi where the architecture needs it (arm64, and architectures with
 * no documented JavaScript mapping) and otherwise keeps the pure-JS doorbell.
 *
 * The usual device-driver pattern:
 *
 *   write descriptors (normal memory: ring in RAM or a BAR)
 *   wd_doorbell32(&regs[DOORBELL], tail)      (write barrier, then one store)
 *   ...
 *   tail = load CQ_TAIL; wd_rmb();            (read barrier, then read completions)
 *
 *                 wd_wmb      wd_rmb      wd_mb
 *   x86-64        sfence      lfence      mfence
 *   arm64         dsb st      dsb ld      dsb sy
 *   other         release     acquire     seq_cst fence (__atomic_thread_fence)
 *
 * x86-64 is TSO: stores are not reordered with older stores, so the descriptor
 * stores before an uncached doorbell store are ordered by the hardware; sfence
 * is only needed when the ring is mapped write-combining (its stores may sit in
 * WC buffers). It is what Linux's wmb() is and costs a few cycles, so the
 * doorbell pays it and works for WC rings too.
 *
 * arm64 is weakly ordered. A store-release (stlr, which is what JavaScript's
 * Atomics.store compiles to there) orders earlier stores to normal memory for
 * other CPUs, but the architecture does not promise that it completes earlier
 * stores before a store to Device memory reaches the device; `dsb st` does
 * (Linux's wmb()).
 *
 * Every store of a register below is one access of the register's width
 * (__atomic_store_n, relaxed: never torn), so a device never sees half a value.
 */
#include <stdint.h>

#define WD_BARRIER_VERSION 1

#if defined(__x86_64__)
#define WD_BARRIER_ARCH "x64"
static inline void wmb(void) { __asm__ __volatile__("sfence" ::: "memory"); }
static inline void rmb(void) { __asm__ __volatile__("lfence" ::: "memory"); }
static inline void mb(void) { __asm__ __volatile__("mfence" ::: "memory"); }
#elif defined(__aarch64__)
#define WD_BARRIER_ARCH "arm64"
static inline void wmb(void) { __asm__ __volatile__("dsb st" ::: "memory"); }
static inline void rmb(void) { __asm__ __volatile__("dsb ld" ::: "memory"); }
static inline void mb(void) { __asm__ __volatile__("dsb sy" ::: "memory"); }
#else
/* Portable: the C11 fences. They order normal memory between CPUs; whether
 * they also order device memory depends on the architecture. */
#define WD_BARRIER_ARCH "portable"
static inline void wmb(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static inline void rmb(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
static inline void mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#endif

#define WD_EXPORT __attribute__((visibility("default")))

/* Version of this interface; the loader refuses a library of another version. */
WD_EXPORT unsigned int wd_barrier_version(void)
{
	return WD_BARRIER_VERSION;
}

/* Which barrier set was compiled in: "x64", "arm64" or "portable". */
WD_EXPORT const char *wd_barrier_arch(void)
{
	return WD_BARRIER_ARCH;
}

/* Write barrier: every store before it is visible (to CPUs and devices)
 * before any store after it. */
WD_EXPORT void wd_wmb(void)
{
	wmb();
}

/* Read barrier: every load before it (e.g. of a completion tail) completes
 * before any load after it (e.g. of the completion entries). */
WD_EXPORT void wd_rmb(void)
{
	rmb();
}

/* Full barrier: loads and stores before it complete before those after it. */
WD_EXPORT void wd_mb(void)
{
	mb();
}

/*
 * Ring a 32-bit doorbell: the write barrier orders the descriptor stores made
 * before this call before the doorbell store, which is one 32-bit store.
 */
WD_EXPORT void wd_doorbell32(volatile uint32_t *reg, uint32_t value)
{
	wmb();	/* descriptor stores (caller) -> doorbell store (below) */
	__atomic_store_n(reg, value, __ATOMIC_RELAXED);
}

/* The same for a 64-bit doorbell: one 64-bit store after the write barrier. */
WD_EXPORT void wd_doorbell64(volatile uint64_t *reg, uint64_t value)
{
	wmb();	/* descriptor stores (caller) -> doorbell store (below) */
	__atomic_store_n(reg, value, __ATOMIC_RELAXED);
}
