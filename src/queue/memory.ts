/**
 * Memory a queue's device can use, whatever reaches it: DMA buffers mapped in a VFIO
 * container's IOMMU (`DmaBuffer`), process memory handed by address to a device that
 * shares the process's address space (UACCE with SVA), or spans of a region the device
 * owns (UACCE without SVA: the arena its driver names). In each case `iova` is what a
 * request carries.
 *
 * @module
 */
import type { BufferArena } from "../drivers/driver.ts";
import { ClosedError } from "../sys/error.ts";
import { MappedMemory } from "../sys/mman.ts";
import { IovaAllocator } from "../vfio/dma.ts";

/** Memory the device can use, from `Queue.alloc`. */
export interface DeviceMemory {
  /**
   * The address the device is given for the first byte: an IOVA (VFIO), a process address
   * (UACCE with SVA) or a byte offset in the driver's arena region (UACCE without SVA).
   */
  readonly iova: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** A `Uint8Array` view of the memory. */
  bytes(byteOffset?: number, length?: number): Uint8Array;
  /** Frees it (idempotent); the queue frees what is left when it is released. */
  close(): void;
}

/** Arena buffers start on this many bytes and are rounded up to it. */
export const ARENA_ALIGNMENT = 64;

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`Cannot allocate "${size}" bytes of ${what}: size must be a positive integer`);
}

/**
 * Process memory handed to a device by address (SVA): page-aligned anonymous memory whose
 * `iova` is its address in this process.
 */
export class HostBuffer implements DeviceMemory {
  #memory: MappedMemory;
  /** The memory's address in this process, which an SVA device uses as it is. */
  readonly iova: bigint;

  /**
   * @throws {RangeError} On a bad size.
   * @throws {SyscallError} ENOMEM from mmap.
   */
  constructor(size: number) {
    checkSize(size, "shared memory");
    this.#memory = MappedMemory.anonymous(size, { label: "memory shared with an SVA device" });
    this.iova = this.#memory.address;
  }

  /** Size in bytes (whole pages). */
  get size(): number {
    return this.#memory.size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#memory.closed;
  }

  /**
   * A `Uint8Array` view (detached when the buffer is freed).
   *
   * @throws {ClosedError} After close.
   */
  bytes(byteOffset = 0, length?: number): Uint8Array {
    return this.#memory.bytes(byteOffset, length);
  }

  /** Frees the memory (idempotent); the queue stops the device before it frees what is left. */
  close(): void {
    this.#memory.close();
  }
}

/**
 * A span of the driver's arena. Its views are views of the region: they stay valid while
 * the queue is open (a freed span may be handed out again) and stop working when the
 * queue unmaps the region.
 */
class ArenaBuffer implements DeviceMemory {
  readonly iova: bigint;
  readonly size: number;
  #region: MappedMemory;
  #offset: number;
  #free: (() => void) | undefined;

  constructor(region: MappedMemory, offset: number, size: number, free: () => void) {
    this.#region = region;
    this.#offset = offset;
    this.size = size;
    this.iova = BigInt(offset);
    this.#free = free;
  }

  get closed(): boolean {
    return this.#free === undefined;
  }

  bytes(byteOffset = 0, length?: number): Uint8Array {
    const label = `arena buffer at offset 0x${this.#offset.toString(16)}`;
    if (this.#free === undefined) throw new ClosedError("view the memory", label);
    const n = length ?? this.size - byteOffset;
    if (!Number.isSafeInteger(byteOffset) || !Number.isSafeInteger(n) || byteOffset < 0 || n < 0 || byteOffset + n > this.size) {
      throw new RangeError(`Cannot view ${label} at "0x${Number(byteOffset).toString(16)}+0x${Number(n).toString(16)}": outside 0x0..0x${this.size.toString(16)}`);
    }
    return this.#region.bytes(this.#offset + byteOffset, n);
  }

  close(): void {
    const free = this.#free;
    this.#free = undefined;
    free?.();
  }
}

/**
 * The allocator of a driver's arena: first fit over the span, {@link ARENA_ALIGNMENT}-byte
 * granules; a buffer's `iova` is its offset in the region.
 */
export class Arena {
  #region: MappedMemory;
  #spans: IovaAllocator;
  #label: string;

  /**
   * @param region The mapped region the arena lies in.
   * @param arena The span the driver declared.
   * @param label The queue, for messages.
   * @throws {RangeError} When the span is not inside the region or not aligned.
   */
  constructor(region: MappedMemory, arena: BufferArena, label: string) {
    const { offset, size } = arena;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size <= 0 || offset + size > region.size || offset % ARENA_ALIGNMENT !== 0) {
      throw new RangeError(
        `Cannot use the buffer arena 0x${offset.toString(16)}+0x${size.toString(16)} of ${label}: it must be a ${ARENA_ALIGNMENT}-byte aligned span inside the ${region.size}-byte region ${arena.region}`,
      );
    }
    this.#region = region;
    // IovaAllocator never hands out address 0; an arena at offset 0 gives up its first granule.
    this.#spans = new IovaAllocator([{ start: BigInt(offset), end: BigInt(offset + size - 1) }], { alignment: BigInt(ARENA_ALIGNMENT) });
    this.#label = `the buffer arena of ${label} (0x${offset.toString(16)}+0x${size.toString(16)} in region ${arena.region})`;
  }

  /**
   * Carves `size` bytes (rounded up to the granule).
   *
   * @throws {RangeError} On a bad size, or when no free span of the arena is large enough.
   */
  alloc(size: number): DeviceMemory {
    checkSize(size, this.#label);
    const len = Math.ceil(size / ARENA_ALIGNMENT) * ARENA_ALIGNMENT;
    let at: bigint;
    try {
      at = this.#spans.allocate(BigInt(len));
    } catch {
      const free = this.#spans.free.reduce((n, r) => n + Number(r.end - r.start + 1n), 0);
      throw new RangeError(`Cannot allocate ${size} bytes in ${this.#label}: no free span is large enough (${free} bytes free in all); close buffers first`);
    }
    return new ArenaBuffer(this.#region, Number(at), len, () => this.#spans.release(at, BigInt(len)));
  }
}

/**
 * The arena of a queue whose device reaches no process memory: the span the driver names,
 * in its region as the port maps it (a UACCE region is mapped once: the same mapping).
 *
 * @throws {Error} When the driver names no arena.
 * @throws {RangeError} When the span does not fit the region.
 */
export function arenaOf(arena: BufferArena | undefined, port: { mapRegion(index: number): MappedMemory }, label: string): Arena {
  if (arena === undefined) {
    throw new Error(`Cannot allocate device memory for ${label}: the device reaches no process memory and its driver names no buffer arena (bufferArena)`);
  }
  return new Arena(port.mapRegion(arena.region), arena, label);
}
