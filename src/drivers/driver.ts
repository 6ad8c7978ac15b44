/**
 * The user-space driver interface: what a driver is given when a queue opens, and the
 * object it is (open, submit, poll, close, and the optional encoded path, completion
 * interrupt and quiesce). Drivers and the registry both depend on this file alone.
 *
 * @module
 */
import type { MappedMemory } from "../sys/mman.ts";

/**
 * What a driver is given when a queue opens, whatever the device's class: the device,
 * already opened (a mediated device through VFIO, or a UACCE queue), and a way to map its
 * regions. Mappings made here belong to the queue, which unmaps them when it is released,
 * after the driver's `close`. How the queue waits for completions (an interrupt the driver
 * names with `completionIrq`, the device fd's readiness, or timers) and where buffers come
 * from (`Queue.alloc`) are the queue's business, not the driver's.
 */
export interface DriverContext {
  /** The algorithm of the queue (the type's `name`). */
  readonly alg: string;
  /** The mediated device's UUID, the VFIO device name, or the UACCE char device's path. */
  readonly device: string;
  /**
   * The number of regions: what the VFIO device reports; for UACCE, 2 (region 0 is
   * `UACCE_QFRT_MMIO`, region 1 `UACCE_QFRT_DUS`).
   */
  readonly regionCount: number;
  /**
   * Maps a whole region of the device (checked against its region info or size). Asking
   * twice for a UACCE region returns the same mapping: the kernel maps each once per queue.
   */
  mapRegion(index: number): MappedMemory;
  /**
   * True when the device shares the process's address space (UACCE's SVA flag): addresses
   * in requests are then process addresses. Otherwise they are what `Queue.alloc` gives as
   * `iova` (an IOVA, or an offset in the region the driver names in `bufferArena`).
   */
  readonly sva?: boolean;
}

/**
 * Where a device that reaches no process memory (a UACCE device without SVA) takes its
 * buffers: a span of one of its regions. `Queue.alloc` carves buffers from it, and a
 * buffer's `iova` is its byte offset in that region.
 */
export interface BufferArena {
  /** The region index (for UACCE, `UACCE_QFRT_DUS`). */
  readonly region: number;
  /** The arena's first byte, as an offset in the region. */
  readonly offset: number;
  /** The arena's size in bytes. */
  readonly size: number;
}

/**
 * A queue's rings as a driver lends them for use in place (`Queue.lendRing`), for rings
 * of the common register shape: the producer's index is published by a store to a
 * doorbell register, the device's progress is read from request-head and completion-tail
 * registers, and the consumer's index is given back by a store to a completion-head
 * register. Indexes are free-running u32 counters; slot `s` of a ring is
 * `index & (entries - 1)`. The lent ring makes the loads and stores itself, with their
 * barriers (an acquire load, a release store), so a move costs no call into the driver.
 */
export interface RingParts {
  /** The request ring as u32 words: slot `s` at word `s * descriptorWords`. */
  readonly sq: Uint32Array;
  /** The completion ring as u32 words: slot `s` at word `s * completionWords`. */
  readonly cq: Uint32Array;
  /** Slots of each ring (powers of two). */
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly descriptorWords: number;
  readonly completionWords: number;
  /** The device's registers as u32 words (a mapped control page). */
  readonly regs: Uint32Array;
  /** Word indexes in `regs`: the doorbell (the new tail is stored there), the device's request head, its completion tail, and the completion head (stored there). */
  readonly doorbell: number;
  readonly sqHeadReg: number;
  readonly cqTailReg: number;
  readonly cqHeadReg: number;
  /** When lent: the index of the next request slot (the tail the device was last told), of the next completion to read, and the last request head read. */
  readonly tail: number;
  readonly head: number;
  readonly sqHead: number;
  /** Rings the doorbell with the new tail when a plain `Atomics.store` is not the driver's barrier (the C backend of `src/sys/barrier.ts`). */
  readonly ring?: ((tail: number) => void) | undefined;
  /** Takes the indexes back into the driver's state when the loan ends. */
  settle(tail: number, head: number, sqHead: number): void;
}

/**
 * A user-space driver: what speaks the queue protocol of one `device_api`. One object,
 * every method required; the queue checks its own state before calling any of them, so a
 * driver never sees a call after `close`.
 *
 * @typeParam H The driver's per-queue state, returned by `open`.
 * @typeParam Req A request, as the driver accepts it.
 * @typeParam Cpl A completion, as the driver reports it.
 */
export interface UserDriver<H = unknown, Req = unknown, Cpl = unknown> {
  /** The `device_api` string this driver speaks, e.g. `"wd_dummy_v1"`. */
  readonly deviceApi: string;
  /** One line saying what the driver is for. */
  readonly description: string;
  /** Maps what it needs, checks the device, and returns the per-queue state. */
  open(ctx: DriverContext): H;
  /**
   * Writes as many of `requests` as the rings take, then rings the doorbell once, and
   * returns how many were queued (0 when the ring is full).
   */
  submit(handle: H, requests: readonly Req[]): number;
  /** Returns up to `max` completions without blocking; an empty array when none is ready. */
  poll(handle: H, max: number): Cpl[];
  /**
   * Optional, with `encode` and `submitEncoded`: the size of one descriptor, the device's
   * own form of a request, in u32 words.
   */
  readonly descriptorWords?: number;
  /** Checks a request and writes its descriptor at `words[at]`; writes nothing when a check fails. */
  encode?(request: Req, words: Uint32Array, at: number): void;
  /**
   * Copies `count` descriptors, from descriptor `first` of `words` (the queue checked the
   * range), into the ring as they are, then rings the doorbell once; returns how many were
   * queued. The hot path for requests encoded once and sent many times.
   */
  submitEncoded?(handle: H, words: Uint32Array, first: number, count: number): number;
  /**
   * Optional: the rings lent for use in place (`Queue.lendRing`), read from the queue's
   * state when lent; the queue makes no other driver call on the ring until it is back.
   */
  lend?(handle: H): RingParts;
  /**
   * Optional: where buffers go when the device reaches no process memory (a UACCE device
   * without SVA): `Queue.alloc` then carves them from this span of a region. Called once,
   * at the first `alloc`.
   */
  bufferArena?(handle: H): BufferArena;
  /**
   * Optional, with the encoded path, `completionWords`, `completionIdWord`, `pollEncoded`
   * and `decode`: the word of a descriptor that holds the request's u32 id. `run` encodes
   * a request without its id and writes the id there, so nothing is copied per request.
   */
  readonly idWord?: number;
  /** Optional (see `idWord`): the size of one completion as the device writes it, in u32 words. */
  readonly completionWords?: number;
  /** Optional (see `idWord`): the word of a completion that holds the request's id. */
  readonly completionIdWord?: number;
  /**
   * Optional (see `idWord`): copies up to `max` ready completions, as the device wrote
   * them, into `words` from word `at` (completion `i` at `at + i * completionWords`; the
   * caller made room for `max`), consumes them from the ring, and returns how many: the
   * zero-allocation counterpart of `poll`.
   */
  pollEncoded?(handle: H, words: Uint32Array, at: number, max: number): number;
  /** Optional (see `idWord`): the completion object of the completion at `words[at]`, as `poll` returns it. */
  decode?(words: Uint32Array, at: number): Cpl;
  /**
   * Optional, with `arm`: the VFIO IRQ index whose interrupt signals completions. The
   * queue routes it to an eventfd (VFIO_DEVICE_SET_IRQS) and sleeps on it when the ring is
   * empty. A device that signals completions itself (a UACCE fd's readiness) needs
   * neither; a device with neither is polled with timers.
   */
  readonly completionIrq?: number;
  /**
   * Acknowledges the completion interrupt and arms it again, so that the next completion
   * the queue has not reaped signals it. The queue calls it after a reap found the ring
   * empty, then reaps once more before it sleeps: a completion that arrived in between is
   * either reaped then or signalled, never lost.
   */
  arm?(handle: H): void;
  /**
   * Optional: stops the device from starting new work, first thing on release, before the
   * queue resets the device (where it offers a reset), closes it and unmaps DMA.
   */
  quiesce?(handle: H): void;
  /** Forgets the queue; the mappings are unmapped by the queue afterwards. */
  close(handle: H): void;
}
