/**
 * The IOMMU side of a VFIO container: its type and info, the IOVA allocator over its usable
 * ranges, and the DMA mappings made through it. `Container` owns one and delegates DMA to
 * it, as the kernel's own selftest library keeps the IOMMU apart from the device.
 *
 * @module
 */

import {
  iommuTypeName,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from "../abi/vfio.ts";
import { decodeDmaUnmapSize, encodeDmaMap, encodeDmaUnmap } from "../abi/vfio_codec.ts";
import { type IommuInfo } from "../abi/vfio_caps.ts";
import { closeAll, SyscallError } from "../sys/error.ts";
import type { IoctlTarget } from "../sys/fd.ts";
import { MappedMemory, pageSize } from "../sys/mman.ts";
import { memlockStatus } from "../sys/resource.ts";
import { DmaBuffer, IovaAllocator } from "./dma.ts";
import { VfioError } from "./errors.ts";
import { readIommuInfo } from "./info.ts";
import { vfioIoctl } from "./_ioctl.ts";

/** Options of `Container.allocDma()` and `Container.mapDma()`. */
export interface DmaOptions {
  /** A fixed IOVA (page aligned); chosen by the allocator by default. */
  readonly iova?: bigint | number;
  /** The device's DMA address width: IOVAs stay below 2^addressBits (edu: 28). */
  readonly addressBits?: number;
  /** The device may read the memory (default true). */
  readonly deviceReads?: boolean;
  /** The device may write the memory (default true). */
  readonly deviceWrites?: boolean;
}

/** Which IOMMU types a container may set (from `ContainerOptions`). */
export interface IommuChoice {
  /** Accept VFIO_NOIOMMU_IOMMU for a no-IOMMU group. Unsafe. */
  readonly allowNoIommu?: boolean;
  /** Types to try, in order; `[VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU]` by default. */
  readonly iommuTypes?: readonly number[];
}

function hex(n: bigint | number): string {
  return `0x${n.toString(16)}`;
}

/**
 * The IOMMU of one container. Made by `Container`; reached through its `allocDma`,
 * `mapDma`, `iommuType`, `iommuInfo` and `dmaBuffers`.
 *
 * @example
 * ```ts
 * import { Container } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * container.openDevice("0000:00:03.0"); // the first group sets the IOMMU
 * const buf = container.allocDma(4096); // Iommu.allocDma underneath
 * ```
 */
export class Iommu {
  #ioctl: IoctlTarget;
  #label: string;
  #alive: () => boolean;
  #type: number | undefined;
  #info: IommuInfo | undefined;
  #allocator: IovaAllocator | undefined;
  #dma = new Set<DmaBuffer>();

  /**
   * @param target The container fd's ioctls.
   * @param label The container, for messages.
   * @param alive Whether the container fd is still open (a buffer closed later skips its unmap).
   */
  constructor(target: IoctlTarget, label: string, alive: () => boolean) {
    this.#ioctl = target;
    this.#label = label;
    this.#alive = alive;
  }

  /** The IOMMU type set (undefined until the first group). */
  get type(): number | undefined {
    return this.#type;
  }

  /** VFIO_IOMMU_GET_INFO as read when the type was set (undefined before, and for no-IOMMU). */
  get info(): IommuInfo | undefined {
    return this.#info;
  }

  /** The DMA buffers mapped and not closed. */
  get buffers(): readonly DmaBuffer[] {
    return [...this.#dma];
  }

  /** VFIO_CHECK_EXTENSION: whether the kernel offers an IOMMU type or extension. */
  checkExtension(extension: number): boolean {
    return vfioIoctl(this.#ioctl, VFIO_CHECK_EXTENSION, extension) > 0;
  }

  /**
   * Sets the IOMMU type for the container's first group: TYPE1v2, else TYPE1 (or the
   * caller's list); no-IOMMU only when allowed and the group is a no-IOMMU group. Reads the
   * IOMMU's info and starts the IOVA allocator on its usable ranges.
   *
   * @throws {TypeError} For a no-IOMMU group without `allowNoIommu`.
   * @throws {SyscallError} From VFIO_SET_IOMMU (EPERM without interrupt remapping, with advice).
   * @throws {Error} Code "ERR_VFIO_NO_IOMMU_TYPE" when no type is offered.
   */
  set(group: { readonly id: number; readonly noiommu: boolean }, options: IommuChoice): void {
    const tried: string[] = [];
    let candidates: readonly number[];
    if (group.noiommu) {
      if (!options.allowNoIommu) throw new TypeError(`Cannot use no-IOMMU VFIO group ${group.id}: pass allowNoIommu to accept it`);
      candidates = [VFIO_NOIOMMU_IOMMU];
    } else {
      candidates = options.iommuTypes ?? [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU];
    }
    for (const t of candidates) {
      if (t === VFIO_NOIOMMU_IOMMU && !options.allowNoIommu) continue;
      if (!this.checkExtension(t)) {
        tried.push(`${iommuTypeName(t)} not offered`);
        continue;
      }
      try {
        vfioIoctl(this.#ioctl, VFIO_SET_IOMMU, t);
      } catch (e) {
        if (e instanceof SyscallError && e.code === "EPERM") {
          throw e.withHint(
            "the IOMMU lacks interrupt remapping: enable it (intremap=on), or load vfio_iommu_type1 with allow_unsafe_interrupts=1",
          );
        }
        throw e;
      }
      this.#type = t;
      if (t !== VFIO_NOIOMMU_IOMMU) {
        this.#info = readIommuInfo(this.#ioctl);
        const page = BigInt(pageSize());
        const pg = this.#info.iovaPgsizes;
        const smallest = pg === 0n ? page : pg & -pg;
        this.#allocator = new IovaAllocator(this.#info.iovaRanges ?? [{ start: 0n, end: (1n << 64n) - 1n }], {
          alignment: smallest > page ? smallest : page,
        });
      }
      return;
    }
    throw new VfioError(`Cannot set an IOMMU type on ${this.#label}: ${tried.join(", ") || "no type allowed"}; load vfio_iommu_type1`, {
      code: "ERR_VFIO_NO_IOMMU_TYPE",
    });
  }

  /** Forgets the type, info and allocator: the kernel dropped the IOMMU with the last group. */
  reset(): void {
    this.#type = undefined;
    this.#info = undefined;
    this.#allocator = undefined;
  }

  /** Unmaps every DMA buffer (reporting every failure). */
  releaseAll(): void {
    const bufs = [...this.#dma];
    closeAll("DMA mappings", bufs.map((b) => () => b.close()));
  }

  /**
   * Allocates page-aligned anonymous memory and maps it for DMA.
   *
   * @param size Bytes (rounded up to whole pages).
   * @param options IOVA, address width, device access.
   * @returns The buffer; `close()` unmaps and frees it.
   * @throws {RangeError} Bad size or IOVA, or no IOVA space below the address limit.
   * @throws {TypeError} Before a group is attached, or on a no-IOMMU container.
   * @throws {SyscallError} From VFIO_IOMMU_MAP_DMA (EEXIST for a fixed IOVA already mapped;
   *   ENOMEM past RLIMIT_MEMLOCK where the kernel pins, with how much is needed and how to raise it).
   * @example
   * ```ts
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * container.openDevice("0000:00:03.0");
   * const buf = container.allocDma(4096, { addressBits: 28 }); // Container delegates here
   * ```
   */
  allocDma(size: number, options: DmaOptions = {}): DmaBuffer {
    this.#dmaReady();
    const mem = MappedMemory.anonymous(size, { label: "DMA memory" });
    try {
      return this.#map(mem, true, options);
    } catch (e) {
      mem.close();
      throw e;
    }
  }

  /**
   * Maps memory the caller owns (page aligned, e.g. `MappedMemory.anonymous`) for DMA. The
   * caller must keep it mapped until the returned buffer is closed.
   *
   * @throws See `allocDma`.
   */
  mapDma(memory: MappedMemory, options: DmaOptions = {}): DmaBuffer {
    this.#dmaReady();
    return this.#map(memory, false, options);
  }

  #dmaReady(): IovaAllocator {
    if (this.#type === VFIO_NOIOMMU_IOMMU) {
      throw new TypeError(`Cannot map DMA through ${this.#label}: it has no IOMMU (no-IOMMU mode gives no DMA translation)`);
    }
    if (this.#allocator === undefined) throw new TypeError(`Cannot map DMA through ${this.#label}: attach a group first (openDevice/openGroup)`);
    return this.#allocator;
  }

  #map(memory: MappedMemory, owns: boolean, options: DmaOptions): DmaBuffer {
    const alloc = this.#dmaReady();
    const size = BigInt(memory.size);
    const page = BigInt(pageSize());
    if (memory.address % page !== 0n || size % alloc.alignment !== 0n) {
      throw new RangeError(`Cannot map DMA range "${hex(memory.address)}+${hex(size)}": address and size must be aligned to ${hex(alloc.alignment)}`);
    }
    const bits = options.addressBits;
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 12 || bits > 64)) {
      throw new RangeError(`Cannot map DMA with addressBits "${bits}": it must be an integer from 12 to 64`);
    }
    // No RLIMIT_MEMLOCK check here: the kernel enforces it where it pins (a device behind a
    // real IOMMU pins at MAP_DMA and answers ENOMEM, explained below); a container of
    // emulated-IOMMU devices (mdevs) pins nothing at map time, and a check here would refuse
    // what the kernel allows (tests/kernel/vfio_memlock.test.ts shows both).
    const flags = (options.deviceReads === false ? 0 : VFIO_DMA_MAP_FLAG_READ) | (options.deviceWrites === false ? 0 : VFIO_DMA_MAP_FLAG_WRITE);
    const fixed = options.iova !== undefined;
    let iova: bigint;
    if (fixed) {
      iova = BigInt(options.iova!);
      if (iova % alloc.alignment !== 0n) throw new RangeError(`Cannot map DMA at IOVA "${hex(iova)}": it must be aligned to ${hex(alloc.alignment)}`);
      if (bits !== undefined && iova + size > 1n << BigInt(bits)) {
        throw new RangeError(`Cannot map DMA at IOVA "${hex(iova)}+${hex(size)}": it exceeds the ${bits}-bit address limit`);
      }
      alloc.reserve(iova, size);
    } else {
      iova = alloc.allocate(size, { addressBits: bits });
    }
    for (let attempt = 0; ; attempt++) {
      try {
        // vaddr: pages of `memory` (mmap'ed, owned by the buffer or the caller); the kernel
        // pins them until VFIO_IOMMU_UNMAP_DMA, which DmaBuffer.close() calls before any munmap.
        vfioIoctl(this.#ioctl, VFIO_IOMMU_MAP_DMA, encodeDmaMap({ flags, vaddr: memory.address, iova, size }));
        break;
      } catch (e) {
        if (e instanceof SyscallError && e.code === "EEXIST" && !fixed && attempt < 8) {
          // The kernel already has a mapping overlapping this range (made outside this
          // object): leave the range reserved so it is never offered again, and try another.
          iova = alloc.allocate(size, { addressBits: bits });
          continue;
        }
        alloc.release(iova, size);
        throw this.#explainMap(e, iova, size);
      }
    }
    const buf: DmaBuffer = new DmaBuffer(memory, iova, {
      ownsMemory: owns,
      owner: {
        unmap: (at, len) => this.#unmap(at, len),
        forget: () => this.#dma.delete(buf),
        alive: () => this.#alive() && this.#type !== undefined,
      },
    });
    this.#dma.add(buf);
    return buf;
  }

  #explainMap(e: unknown, iova: bigint, size: bigint): unknown {
    if (!(e instanceof SyscallError)) return e;
    const range = `IOVA range ${hex(iova)}+${hex(size)}`;
    switch (e.code) {
      case "EEXIST":
        return e.withHint(`the ${range} overlaps an existing mapping of this container; unmap it first or let the allocator choose`);
      case "ENOMEM": {
        const s = memlockStatus();
        const limit = s.limit === Infinity ? "unlimited" : `${Math.ceil(s.limit / 1024)} KiB`;
        const needed = Math.ceil((s.locked + Number(size)) / 1024);
        return e.withHint(
          `pinning ${Number(size) / 1024} KiB exceeded the locked-memory limit (RLIMIT_MEMLOCK ${limit}, ` +
            `${Math.ceil(s.locked / 1024)} KiB locked); raise it (ulimit -l ${needed}, LimitMEMLOCK= in a systemd unit, ` +
            `memlock in /etc/security/limits.conf) or grant CAP_IPC_LOCK`,
        );
      }
      case "ENOSPC":
        return e.withHint("the container reached vfio_iommu_type1's dma_entry_limit; map fewer, larger buffers");
      case "EINVAL":
        return e.withHint(`the ${range} is misaligned or outside the IOMMU's usable ranges`);
      default:
        return e;
    }
  }

  #unmap(iova: bigint, size: bigint): void {
    const buf = encodeDmaUnmap({ flags: 0, iova, size });
    vfioIoctl(this.#ioctl, VFIO_IOMMU_UNMAP_DMA, buf);
    const done = decodeDmaUnmapSize(buf);
    this.#allocator?.release(iova, size);
    if (done !== size) {
      throw new RangeError(`Cannot unmap DMA range "${hex(iova)}+${hex(size)}" exactly: the kernel unmapped ${hex(done)} bytes`);
    }
  }
}
