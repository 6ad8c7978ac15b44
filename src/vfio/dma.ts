/**
 * DMA: an IOVA allocator that honours the IOMMU's usable ranges and a device's address
 * width, and `DmaBuffer`, page-aligned memory mapped into a container's IOMMU.
 *
 * @module
 */

import type { IovaRange } from "../abi/vfio_caps.ts";
import { ClosedError, closeAll } from "../sys/error.ts";
import type { MappedMemory } from "../sys/mman.ts";

/** A half-open span of IOVA space, [start, end). */
interface Span {
  start: bigint;
  end: bigint;
}

const U64_END = 1n << 64n;

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}

/** Options of `IovaAllocator.allocate()`. */
export interface IovaAllocateOptions {
  /** Addresses must stay below 2^addressBits (a device's DMA mask; edu: 28). */
  readonly addressBits?: number;
  /** Alignment of the start (a power of two, at least the allocator's). */
  readonly alignment?: bigint;
}

/**
 * First-fit allocator of IOVA space, starting from the lowest address so that devices with
 * a narrow DMA mask are served. IOVA 0 is never handed out.
 *
 * @example
 * ```ts
 * import { IovaAllocator } from "warpdrive/vfio";
 *
 * const a = new IovaAllocator([{ start: 0n, end: 0xfedfffffn }], { alignment: 4096n });
 * a.allocate(8192n, { addressBits: 28 }); // 0x1000n
 * ```
 */
export class IovaAllocator {
  #free: Span[];
  #alignment: bigint;
  /** What is handed out (by allocate or reserve): start → size. Only these can be released. */
  #taken = new Map<bigint, bigint>();

  /**
   * @param ranges Usable ranges, inclusive ends (from VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE).
   * @param options `alignment` of every allocation (the page size; a power of two).
   * @throws {RangeError} When the alignment is not a power of two.
   */
  constructor(ranges: readonly IovaRange[], options: { readonly alignment: bigint }) {
    const al = options.alignment;
    if (al <= 0n || (al & (al - 1n)) !== 0n) throw new RangeError(`Cannot align IOVAs to "${al}": alignment must be a power of two`);
    this.#alignment = al;
    const spans = ranges
      .map((r) => ({ start: r.start === 0n ? al : r.start, end: r.end + 1n }))
      .filter((s) => s.end > s.start)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.#free = [];
    for (const s of spans) this.#insert(s.start, s.end);
  }

  /** The free spans, as inclusive ranges (for diagnostics and tests). */
  get free(): readonly IovaRange[] {
    return this.#free.map((s) => ({ start: s.start, end: s.end - 1n }));
  }

  /** The allocation alignment. */
  get alignment(): bigint {
    return this.#alignment;
  }

  /**
   * Finds and takes `size` bytes of IOVA space.
   *
   * @returns The start address.
   * @throws {RangeError} When size is not a positive multiple of the alignment, or no free
   *   span fits below the address limit.
   */
  allocate(size: bigint, options: IovaAllocateOptions = {}): bigint {
    const al = options.alignment !== undefined && options.alignment > this.#alignment ? options.alignment : this.#alignment;
    if (size <= 0n || size % this.#alignment !== 0n) {
      throw new RangeError(`Cannot allocate IOVA space of "${hex(size)}" bytes: size must be a positive multiple of ${hex(this.#alignment)}`);
    }
    const limit = options.addressBits === undefined ? U64_END : 1n << BigInt(options.addressBits);
    for (const s of this.#free) {
      const start = ((s.start + al - 1n) / al) * al;
      const end = start + size;
      if (end <= s.end && end <= limit) {
        this.reserve(start, size);
        return start;
      }
      if (start >= limit) break;
    }
    const bits = options.addressBits === undefined ? "" : ` below 2^${options.addressBits}`;
    throw new RangeError(
      `Cannot allocate IOVA space of "${hex(size)}" bytes${bits}: no free span is large enough ` +
        `(free: ${this.free.map((r) => `${hex(r.start)}-${hex(r.end)}`).join(", ") || "none"})`,
    );
  }

  /**
   * Takes a specific span (a caller-chosen IOVA, or one the kernel says is taken).
   *
   * @throws {RangeError} When any part of it is not free.
   */
  reserve(iova: bigint, size: bigint): void {
    const end = iova + size;
    const i = this.#free.findIndex((s) => s.start <= iova && end <= s.end);
    if (i < 0 || size <= 0n) {
      throw new RangeError(`Cannot reserve IOVA range "${hex(iova)}+${hex(size)}": it is not entirely free and usable`);
    }
    const s = this.#free[i]!;
    const parts: Span[] = [];
    if (s.start < iova) parts.push({ start: s.start, end: iova });
    if (end < s.end) parts.push({ start: end, end: s.end });
    this.#free.splice(i, 1, ...parts);
    this.#taken.set(iova, size);
  }

  /**
   * Gives back a span exactly as `allocate` or `reserve` handed it out (merging with its
   * neighbours). Anything else (a span released already, or reused since, IOVA 0, a
   * different size) is refused and changes nothing, so two live buffers never overlap.
   *
   * @throws {RangeError} When the span is not allocated as given.
   */
  release(iova: bigint, size: bigint): void {
    const taken = this.#taken.get(iova);
    if (taken === undefined || taken !== size) {
      const what = taken === undefined ? "it is not allocated" : `it was allocated with size ${hex(taken)}`;
      throw new RangeError(`Cannot release IOVA range "${hex(iova)}+${hex(size)}": ${what}`);
    }
    this.#taken.delete(iova);
    this.#insert(iova, iova + size);
  }

  #insert(start: bigint, end: bigint): void {
    let i = 0;
    while (i < this.#free.length && this.#free[i]!.start < start) i++;
    this.#free.splice(i, 0, { start, end });
    // Merge with the previous and next spans when they touch.
    const merged: Span[] = [];
    for (const s of this.#free) {
      const last = merged[merged.length - 1];
      if (last !== undefined && s.start <= last.end) last.end = s.end > last.end ? s.end : last.end;
      else merged.push({ ...s });
    }
    this.#free = merged;
  }
}

/** How a `DmaBuffer` reaches its container (supplied by `Container`). */
export interface DmaOwner {
  /** VFIO_IOMMU_UNMAP_DMA of the buffer's range. */
  readonly unmap: (iova: bigint, size: bigint) => void;
  /** Called once the buffer is closed, to forget it. */
  readonly forget: () => void;
  /** Whether the container can still unmap (false once its IOMMU is gone). */
  readonly alive: () => boolean;
}

/**
 * Memory mapped for device DMA at `iova` in a container's IOMMU. The device reads and
 * writes `memory` through `iova`; the CPU uses `memory`'s accessors or views.
 *
 * `close()` unmaps the IOVA range first (so the device can no longer reach the pages),
 * then frees the memory when the buffer owns it (`Container.allocDma`), which also detaches
 * every view of it.
 *
 * @example
 * ```ts
 * import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const regs = container.openDevice("0000:00:03.0").region(VFIO_PCI_BAR0_REGION_INDEX).map();
 * using buf = container.allocDma(4096, { addressBits: 28 });
 * buf.bytes().set([1, 2, 3, 4]);
 * regs.write64(0x80, buf.iova); // edu: DMA source address
 * ```
 */
export class DmaBuffer {
  #memory: MappedMemory;
  #ownsMemory: boolean;
  #iova: bigint;
  #owner: DmaOwner;
  #closed = false;
  #label: string;

  /**
   * Wraps a mapping made by the container (normally through `Container.allocDma/mapDma`).
   *
   * @param memory The host memory.
   * @param iova Where the device sees it.
   * @param options `owner` hooks, `ownsMemory` (free the memory on close).
   */
  constructor(memory: MappedMemory, iova: bigint, options: { readonly owner: DmaOwner; readonly ownsMemory: boolean }) {
    this.#memory = memory;
    this.#iova = iova;
    this.#owner = options.owner;
    this.#ownsMemory = options.ownsMemory;
    this.#label = `DMA buffer at IOVA ${hex(iova)}`;
  }

  #check(action: string): void {
    if (this.#closed) throw new ClosedError(action, this.#label);
  }

  /**
   * The IO virtual address the device uses.
   *
   * @throws {ClosedError} After close.
   */
  get iova(): bigint {
    this.#check("get the IOVA");
    return this.#iova;
  }

  /** Mapped size in bytes (whole pages). */
  get size(): number {
    return this.#memory.size;
  }

  /**
   * The host memory (accessors and views).
   *
   * @throws {ClosedError} After close.
   */
  get memory(): MappedMemory {
    this.#check("use the memory");
    return this.#memory;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A `Uint8Array` view of the memory (detached when the buffer is freed).
   *
   * @throws {ClosedError} After close.
   */
  bytes(byteOffset = 0, length?: number): Uint8Array {
    this.#check("view the memory");
    return this.#memory.bytes(byteOffset, length);
  }

  /**
   * Unmaps the IOVA range, then frees the memory if owned (idempotent).
   *
   * @throws The failures, after trying every step.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const size = BigInt(this.#memory.size);
    const steps: (() => void)[] = [];
    if (this.#owner.alive()) steps.push(() => this.#owner.unmap(this.#iova, size));
    if (this.#ownsMemory) steps.push(() => this.#memory.close());
    steps.push(() => this.#owner.forget());
    closeAll(this.#label, steps);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
