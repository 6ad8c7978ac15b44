/**
 * The VFIO container (`/dev/vfio/vfio`): an IOMMU context holding groups, and the DMA
 * mappings their devices use.
 *
 * @module
 */

import { join } from "node:path";
import { O_CLOEXEC, O_RDWR } from "../abi/libc.ts";
import {
  decodeDmaUnmapSize,
  decodeIommuInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeIommuInfo,
  iommuInfoArgsz,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  vfio_iommu_type1_info,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  type IommuInfo,
} from "../abi/vfio.ts";
import { ClosedError, closeAll, SyscallError } from "../sys/error.ts";
import { Fd, type IoctlTarget } from "../sys/fd.ts";
import { MappedMemory, pageSize } from "../sys/mman.ts";
import { checkMemlock, memlockStatus } from "../sys/resource.ts";
import type { Device } from "./device.ts";
import { DmaBuffer, IovaAllocator } from "./dma.ts";
import { VfioError } from "./errors.ts";
import { Group } from "./group.ts";
import { locateDevice, type DeviceRef } from "./_sysfs.ts";

/** Options of `Container.open()`. */
export interface ContainerOptions {
  /** Where `vfio/vfio` and the group nodes live; `/dev` by default. */
  readonly devRoot?: string;
  /** The sysfs mount; `/sys` by default. */
  readonly sysfsRoot?: string;
  /** Accept no-IOMMU groups and VFIO_NOIOMMU_IOMMU when the kernel offers it. Unsafe. */
  readonly allowNoIommu?: boolean;
  /** IOMMU types to try, in order; `[VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU]` by default. */
  readonly iommuTypes?: readonly number[];
  /** Wraps each fd's ioctls (tests substitute a fake kernel); identity by default. */
  readonly ioctl?: (fd: Fd) => IoctlTarget;
}

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

const MAX_INFO_BYTES = 64 * 1024;

/**
 * VFIO_IOMMU_GET_INFO with `argsz` renegotiation (the capability chain follows the struct).
 *
 * @param target The container fd (or a fake).
 * @throws {SyscallError} From the ioctl (EINVAL before an IOMMU type is set).
 * @throws {RangeError} On a malformed answer.
 * @example
 * ```ts
 * readIommuInfo(containerFd).iovaRanges;
 * ```
 */
export function readIommuInfo(target: IoctlTarget): IommuInfo {
  let argsz = vfio_iommu_type1_info.size;
  for (let attempt = 0; attempt < 4; attempt++) {
    const buf = encodeIommuInfo(argsz);
    target.ioctl(VFIO_IOMMU_GET_INFO, buf, "VFIO_IOMMU_GET_INFO");
    const wanted = iommuInfoArgsz(buf);
    if (wanted <= buf.length) return decodeIommuInfo(buf.subarray(0, Math.max(wanted, vfio_iommu_type1_info.size)));
    if (wanted > MAX_INFO_BYTES) throw new RangeError(`Cannot read IOMMU info: the kernel asks for "${wanted}" bytes`);
    argsz = wanted;
  }
  throw new RangeError("Cannot read IOMMU info: argsz kept growing after 4 attempts");
}

const IOMMU_NAMES: Readonly<Record<number, string>> = {
  [VFIO_TYPE1_IOMMU]: "VFIO_TYPE1_IOMMU",
  [VFIO_TYPE1v2_IOMMU]: "VFIO_TYPE1v2_IOMMU",
  [VFIO_NOIOMMU_IOMMU]: "VFIO_NOIOMMU_IOMMU",
};

function iommuName(t: number): string {
  return IOMMU_NAMES[t] ?? `IOMMU type ${t}`;
}

function hex(n: bigint | number): string {
  return `0x${n.toString(16)}`;
}

/**
 * A VFIO container. Open one, then open devices (or groups) through it: the first group
 * attached decides the IOMMU type (TYPE1v2, else TYPE1; no-IOMMU only when allowed).
 * DMA buffers are mapped through it.
 *
 * `close()` tears everything down in order: every device (mappings, interrupts, eventfds,
 * fd), then DMA mappings, then groups, then the container fd; it goes on past failures
 * and reports them all.
 *
 * @example
 * ```ts
 * using container = Container.open();
 * const dev = container.openDevice("0000:00:03.0");
 * const buf = container.allocDma(4096, { addressBits: 28 });
 * ```
 */
export class Container {
  #fd: Fd;
  #ioctl: IoctlTarget;
  #options: ContainerOptions;
  #groups = new Map<number, Group>();
  #dma = new Set<DmaBuffer>();
  #iommuType: number | undefined;
  #iommuInfo: IommuInfo | undefined;
  #allocator: IovaAllocator | undefined;
  #closing = false;
  #label: string;

  private constructor(fd: Fd, options: ContainerOptions) {
    this.#fd = fd;
    this.#options = options;
    this.#ioctl = (options.ioctl ?? ((f: Fd) => f))(fd);
    this.#label = `VFIO container "${fd.path}"`;
  }

  /**
   * Opens `/dev/vfio/vfio` and checks the API version.
   *
   * @param options Paths, IOMMU preferences, no-IOMMU permission.
   * @throws {SyscallError} ENOENT when VFIO is not loaded, EACCES without permission.
   * @throws {Error} Code "ERR_VFIO_API_VERSION" when the kernel speaks another version.
   * @example
   * ```ts
   * const container = Container.open({ allowNoIommu: false });
   * ```
   */
  static open(options: ContainerOptions = {}): Container {
    const path = join(options.devRoot ?? "/dev", "vfio", "vfio");
    let fd: Fd;
    try {
      fd = Fd.open(path, O_RDWR | O_CLOEXEC, { label: `VFIO container "${path}"` });
    } catch (e) {
      if (e instanceof SyscallError && e.code === "ENOENT") throw e.withHint("VFIO is not available: load it (modprobe vfio-pci)");
      if (e instanceof SyscallError && (e.code === "EACCES" || e.code === "EPERM")) throw e.withHint("run as root or give this user access to it");
      throw e;
    }
    const c = new Container(fd, options);
    try {
      const v = c.#ioctl.ioctl(VFIO_GET_API_VERSION, undefined, "VFIO_GET_API_VERSION");
      if (v !== VFIO_API_VERSION) {
        throw new VfioError(`Cannot use ${c.#label}: the kernel speaks VFIO API version "${v}", this library ${VFIO_API_VERSION}`, {
          code: "ERR_VFIO_API_VERSION",
          path,
        });
      }
    } catch (e) {
      try {
        fd.close();
      } catch {
        // The version failure is the one to report.
      }
      throw e;
    }
    return c;
  }

  #check(action: string): void {
    if (this.#closing) throw new ClosedError(action, this.#label);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /**
   * The container fd number (for advanced callers; owned by this object).
   *
   * @throws {ClosedError} After close.
   */
  get fd(): number {
    this.#check("use the container fd");
    return this.#fd.fd;
  }

  /** The container node's path. */
  get path(): string | undefined {
    return this.#fd.path;
  }

  /**
   * The IOMMU type set on the container (undefined until a group is attached).
   *
   * @throws {ClosedError} After close.
   */
  get iommuType(): number | undefined {
    this.#check("read the IOMMU type");
    return this.#iommuType;
  }

  /**
   * VFIO_IOMMU_GET_INFO, read when the IOMMU was set (undefined before, and for no-IOMMU).
   *
   * @throws {ClosedError} After close.
   */
  get iommuInfo(): IommuInfo | undefined {
    this.#check("read IOMMU info");
    return this.#iommuInfo;
  }

  /** The groups attached and open. */
  get groups(): readonly Group[] {
    return [...this.#groups.values()];
  }

  /** The DMA buffers mapped and not closed. */
  get dmaBuffers(): readonly DmaBuffer[] {
    return [...this.#dma];
  }

  /**
   * VFIO_CHECK_EXTENSION.
   *
   * @param extension An IOMMU type or extension (`VFIO_TYPE1v2_IOMMU`, `VFIO_UNMAP_ALL`, …).
   * @returns Whether the kernel supports it.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl.
   */
  checkExtension(extension: number): boolean {
    this.#check("check an extension");
    return this.#ioctl.ioctl(VFIO_CHECK_EXTENSION, extension, "VFIO_CHECK_EXTENSION") > 0;
  }

  /**
   * Opens group `id` (or returns it when already open here), attaches it, and sets the IOMMU
   * type when it is the first group.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} EBUSY (another process holds the group), ENOENT, EPERM (no
   *   interrupt remapping) — with advice.
   * @throws {Error} Code "ERR_VFIO_GROUP_NOT_VIABLE" or "ERR_VFIO_NO_IOMMU_TYPE".
   * @example
   * ```ts
   * const group = container.openGroup(12);
   * ```
   */
  openGroup(id: number): Group {
    this.#check(`open VFIO group ${id}`);
    const existing = this.#groups.get(id);
    if (existing !== undefined && !existing.closed) return existing;
    const group = Group.open(id, {
      devRoot: this.#options.devRoot,
      sysfsRoot: this.#options.sysfsRoot,
      allowNoIommu: this.#options.allowNoIommu,
      ioctl: this.#options.ioctl,
    });
    try {
      if (this.#iommuType === VFIO_NOIOMMU_IOMMU && !group.noiommu) {
        throw new TypeError(`Cannot add IOMMU-backed VFIO group ${id} to a no-IOMMU container: open another container`);
      }
      group.attach({
        container: this,
        containerFd: this.#fd,
        beforeClose: (g) => this.#groupClosing(g),
        afterClose: (g) => this.#groupClosed(g),
      });
      this.#groups.set(id, group);
      if (this.#iommuType === undefined) this.#setIommu(group);
    } catch (e) {
      this.#groups.delete(id);
      try {
        group.close();
      } catch {
        // The attach failure is the one to report.
      }
      throw e;
    }
    return group;
  }

  /**
   * Opens a device by PCI address, mediated device UUID, sysfs path, or `{ bus, name }`:
   * finds its IOMMU group in sysfs, opens and attaches the group (once), then the device.
   *
   * @throws {TypeError} For a reference that is none of those.
   * @throws {Error} Code ENOENT when the device or its IOMMU group is missing, with advice.
   * @throws {SyscallError} EBUSY when another process holds the group, … (see `openGroup`).
   * @throws {ClosedError} After close.
   * @example
   * ```ts
   * container.openDevice("0000:00:03.0");
   * container.openDevice({ bus: "mdev", name: "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" });
   * ```
   */
  openDevice(ref: DeviceRef): Device {
    this.#check("open a device");
    const located = locateDevice(ref, this.#options.sysfsRoot ?? "/sys");
    const group = this.openGroup(located.groupId);
    return group.openDevice(located.name, { sysfsPath: located.sysfsPath });
  }

  #setIommu(group: Group): void {
    const tried: string[] = [];
    let candidates: readonly number[];
    if (group.noiommu) {
      if (!this.#options.allowNoIommu) throw new TypeError(`Cannot use no-IOMMU VFIO group ${group.id}: pass allowNoIommu to accept it`);
      candidates = [VFIO_NOIOMMU_IOMMU];
    } else {
      candidates = this.#options.iommuTypes ?? [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU];
    }
    for (const t of candidates) {
      if (t === VFIO_NOIOMMU_IOMMU && !this.#options.allowNoIommu) continue;
      if (!this.checkExtension(t)) {
        tried.push(`${iommuName(t)} not offered`);
        continue;
      }
      try {
        this.#ioctl.ioctl(VFIO_SET_IOMMU, t, "VFIO_SET_IOMMU");
      } catch (e) {
        if (e instanceof SyscallError && e.code === "EPERM") {
          throw e.withHint(
            "the IOMMU lacks interrupt remapping: enable it (intremap=on), or load vfio_iommu_type1 with allow_unsafe_interrupts=1",
          );
        }
        throw e;
      }
      this.#iommuType = t;
      if (t !== VFIO_NOIOMMU_IOMMU) {
        this.#iommuInfo = readIommuInfo(this.#ioctl);
        const page = BigInt(pageSize());
        const pg = this.#iommuInfo.iovaPgsizes;
        const smallest = pg === 0n ? page : pg & -pg;
        this.#allocator = new IovaAllocator(this.#iommuInfo.iovaRanges ?? [{ start: 0n, end: (1n << 64n) - 1n }], {
          alignment: smallest > page ? smallest : page,
        });
      }
      return;
    }
    throw new VfioError(`Cannot set an IOMMU type on ${this.#label}: ${tried.join(", ") || "no type allowed"}; load vfio_iommu_type1`, {
      code: "ERR_VFIO_NO_IOMMU_TYPE",
    });
  }

  #groupClosing(group: Group): void {
    const others = [...this.#groups.values()].filter((g) => g !== group && !g.closed);
    // The kernel drops the IOMMU (and every mapping) when the last group leaves: unmap first.
    if (others.length === 0) this.#releaseDma();
  }

  #groupClosed(group: Group): void {
    if (this.#groups.get(group.id) === group) this.#groups.delete(group.id);
    if (this.#groups.size === 0) {
      this.#iommuType = undefined;
      this.#iommuInfo = undefined;
      this.#allocator = undefined;
    }
  }

  #releaseDma(): void {
    const bufs = [...this.#dma];
    closeAll("DMA mappings", bufs.map((b) => () => b.close()));
  }

  /**
   * Allocates page-aligned anonymous memory and maps it for DMA.
   *
   * @param size Bytes (rounded up to whole pages).
   * @param options IOVA, address width, device access.
   * @returns The buffer; `close()` unmaps and frees it.
   * @throws {RangeError} Bad size or IOVA, no IOVA space below the address limit, or
   *   RLIMIT_MEMLOCK too low (code "ENOMEM", with how much is needed and how to raise it).
   * @throws {TypeError} Before a group is attached, or on a no-IOMMU container.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_IOMMU_MAP_DMA (EEXIST for a fixed IOVA already mapped).
   * @example
   * ```ts
   * const buf = container.allocDma(4096, { addressBits: 28 });
   * ```
   */
  allocDma(size: number, options: DmaOptions = {}): DmaBuffer {
    this.#check("allocate DMA memory");
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
    this.#check("map DMA memory");
    this.#dmaReady();
    return this.#map(memory, false, options);
  }

  #dmaReady(): IovaAllocator {
    if (this.#iommuType === VFIO_NOIOMMU_IOMMU) {
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
    if (this.#iommuType === VFIO_TYPE1_IOMMU || this.#iommuType === VFIO_TYPE1v2_IOMMU) checkMemlock(memory.size);
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
        this.#ioctl.ioctl(VFIO_IOMMU_MAP_DMA, encodeDmaMap({ flags, vaddr: memory.address, iova, size }), "VFIO_IOMMU_MAP_DMA");
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
        alive: () => !this.#fd.closed && this.#iommuType !== undefined,
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
        return e.withHint(
          `pinning ${Number(size) / 1024} KiB exceeded the locked-memory limit (RLIMIT_MEMLOCK ${limit}, ` +
            `${Math.ceil(s.locked / 1024)} KiB locked); raise it (ulimit -l) or grant CAP_IPC_LOCK`,
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
    this.#ioctl.ioctl(VFIO_IOMMU_UNMAP_DMA, buf, "VFIO_IOMMU_UNMAP_DMA");
    const done = decodeDmaUnmapSize(buf);
    this.#allocator?.release(iova, size);
    if (done !== size) {
      throw new RangeError(`Cannot unmap DMA range "${hex(iova)}+${hex(size)}" exactly: the kernel unmapped ${hex(done)} bytes`);
    }
  }

  /**
   * Closes devices, DMA mappings, groups, then the container fd (idempotent).
   *
   * @throws The failures, after trying every step.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const groups = [...this.#groups.values()];
    const steps: (() => void)[] = [];
    for (const g of groups) steps.push(() => g.closeDevices());
    steps.push(() => this.#releaseDma());
    for (const g of groups) steps.push(() => g.close());
    steps.push(() => this.#fd.close());
    closeAll(this.#label, steps);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
