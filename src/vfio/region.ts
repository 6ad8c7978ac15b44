/**
 * Device regions: their description (VFIO_DEVICE_GET_REGION_INFO with `argsz` renegotiation
 * and the capability chain), pread/pwrite access, and mmap of the whole region or of its
 * sparse areas.
 *
 * @module
 */

import { type RegionInfo } from "../abi/vfio_caps.ts";
import { PROT_READ, PROT_WRITE } from "../abi/libc.ts";
import { ClosedError, closeAll, SyscallError } from "../sys/error.ts";
import { errnoValue } from "../sys/errno.ts";
import type { Fd } from "../sys/fd.ts";
import { MappedMemory, pageSize } from "../sys/mman.ts";

const EIO = errnoValue("EIO");

/** Options of `Region.map()`. */
export interface RegionMapOptions {
  /** Start within the region (page aligned); 0 by default. */
  readonly offset?: number;
  /** Bytes to map; to the end of the region (or of the area holding `offset`) by default. */
  readonly size?: number;
}

/**
 * One region of a device (a PCI BAR, config space, a queue region of a mediated device).
 * Its description is read once. Registers are reached either through pread/pwrite
 * (`read32()`, `write32()`, …: works for every readable/writable region, one syscall each) or
 * through `map()`, which gives a `MappedMemory` with checked accessors (no syscall).
 *
 * Closing a region unmaps its mappings; the device closes its regions.
 *
 * @example
 * ```ts
 * import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const device = container.openDevice("0000:00:03.0");
 * const bar0 = device.region(VFIO_PCI_BAR0_REGION_INDEX);
 * const regs = bar0.map();
 * regs.read32(0x00); // edu: 0x010000ed
 * ```
 */
export class Region {
  #fd: Fd;
  #info: RegionInfo;
  #label: string;
  #alive: () => boolean;
  #mappings = new Set<MappedMemory>();
  #closed = false;

  private constructor(fd: Fd, info: RegionInfo, label: string, alive: () => boolean) {
    this.#fd = fd;
    this.#info = info;
    this.#label = label;
    this.#alive = alive;
  }

  /**
   * A region over any file laid out like a device fd: a VFIO device, or a memfd in tests.
   *
   * @param fd The file (not owned: the region never closes it).
   * @param info The region's description (`offset` is where it starts in the file).
   * @param options `label` for messages; `alive` says whether the owner is still open.
   * @example
   * ```ts
   * import type { RegionInfo } from "warpdrive/abi";
   * import { Fd, ftruncate, memfdCreate, MFD_CLOEXEC } from "warpdrive/sys";
   * import { Region } from "warpdrive/vfio";
   *
   * declare const info: RegionInfo; // the description of a real region, to imitate
   * const memfd = Fd.adopt(memfdCreate("fake BAR", MFD_CLOEXEC), { label: "fake BAR" });
   * ftruncate(memfd.fd, 8192);
   * const r = Region.fromFd(memfd, { ...info, offset: 0, size: 8192 }, { label: "fake BAR" });
   * ```
   */
  static fromFd(fd: Fd, info: RegionInfo, options: { readonly label?: string; readonly alive?: () => boolean } = {}): Region {
    return new Region(fd, info, options.label ?? `region ${info.index}`, options.alive ?? (() => !fd.closed));
  }

  /** The description read from the kernel (plain data). */
  get info(): RegionInfo {
    return this.#info;
  }

  /** Region index. */
  get index(): number {
    return this.#info.index;
  }

  /** Size in bytes. */
  get size(): number {
    return this.#info.size;
  }

  /** Whether the region (or its device) is closed. */
  get closed(): boolean {
    return this.#closed || !this.#alive();
  }

  /** What this region is, for messages. */
  get label(): string {
    return this.#label;
  }

  /** The live mappings of this region. */
  get mappings(): readonly MappedMemory[] {
    return [...this.#mappings].filter((m) => !m.closed);
  }

  #check(action: string): void {
    if (this.closed) throw new ClosedError(action, this.#label);
  }

  #checkRange(action: string, offset: number, length: number, width: number, write: boolean): void {
    this.#check(action);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.#info.size) {
      throw new RangeError(`Cannot ${action}: outside ${this.#label} (0x0..0x${this.#info.size.toString(16)})`);
    }
    if (offset % width !== 0) throw new RangeError(`Cannot ${action}: offset must be ${width}-byte aligned`);
    if (write ? !this.#info.writable : !this.#info.readable) {
      throw new TypeError(`Cannot ${action}: ${this.#label} is not ${write ? "writable" : "readable"}`);
    }
  }

  /**
   * Reads bytes with pread(2).
   *
   * @throws {RangeError} Outside the region.
   * @throws {TypeError} Region not readable.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pread (EIO on a short read).
   */
  read(offset: number, length: number): Uint8Array {
    const action = `read ${length} bytes at "0x${Number(offset).toString(16)}"`;
    this.#checkRange(action, offset, length, 1, false);
    const buf = new Uint8Array(length);
    this.#readInto(buf, offset, action);
    return buf;
  }

  #readInto(buf: Uint8Array, offset: number, action: string): void {
    const n = this.#fd.pread(buf, this.#info.offset + offset, `${action} of ${this.#label}`);
    if (n !== buf.length) {
      throw new SyscallError(EIO, { syscall: "pread", op: `${action} of ${this.#label}`, path: this.#fd.path, hint: `short read of ${n} bytes` });
    }
  }

  /**
   * Writes bytes with pwrite(2).
   *
   * @throws {RangeError} Outside the region.
   * @throws {TypeError} Region not writable.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pwrite (EIO on a short write).
   */
  write(offset: number, data: Uint8Array): void {
    const action = `write ${data.length} bytes at "0x${Number(offset).toString(16)}"`;
    this.#checkRange(action, offset, data.length, 1, true);
    this.#writeFrom(data, offset, action);
  }

  #writeFrom(data: Uint8Array, offset: number, action: string): void {
    const n = this.#fd.pwrite(data, this.#info.offset + offset, `${action} of ${this.#label}`);
    if (n !== data.length) {
      throw new SyscallError(EIO, { syscall: "pwrite", op: `${action} of ${this.#label}`, path: this.#fd.path, hint: `short write of ${n} bytes` });
    }
  }

  #readN(offset: number, width: 1 | 2 | 4 | 8): Uint8Array {
    const action = `read ${width * 8}-bit value at "0x${Number(offset).toString(16)}"`;
    this.#checkRange(action, offset, width, width, false);
    const buf = new Uint8Array(8);
    this.#readInto(buf.subarray(0, width), offset, action);
    return buf;
  }

  #writeN(offset: number, width: 1 | 2 | 4 | 8, buf: Uint8Array): void {
    const action = `write ${width * 8}-bit value at "0x${Number(offset).toString(16)}"`;
    this.#checkRange(action, offset, width, width, true);
    this.#writeFrom(buf.subarray(0, width), offset, action);
  }

  /**
   * Reads 8 bits with one pread.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pread.
   */
  read8(offset: number): number {
    return this.#readN(offset, 1)[0]!;
  }

  /**
   * Reads 16 bits (host order) with one pread.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pread.
   */
  read16(offset: number): number {
    return new Uint16Array(this.#readN(offset, 2).buffer)[0]!;
  }

  /**
   * Reads 32 bits (host order) with one pread.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pread.
   */
  read32(offset: number): number {
    return new Uint32Array(this.#readN(offset, 4).buffer)[0]!;
  }

  /**
   * Reads 64 bits (host order) with one pread.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pread.
   */
  read64(offset: number): bigint {
    return new BigUint64Array(this.#readN(offset, 8).buffer)[0]!;
  }

  /**
   * Writes 8 bits with one pwrite.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pwrite.
   */
  write8(offset: number, value: number): void {
    this.#writeN(offset, 1, new Uint8Array([value]));
  }

  /**
   * Writes 16 bits (host order) with one pwrite.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pwrite.
   */
  write16(offset: number, value: number): void {
    this.#writeN(offset, 2, new Uint8Array(new Uint16Array([value]).buffer));
  }

  /**
   * Writes 32 bits (host order) with one pwrite.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pwrite.
   */
  write32(offset: number, value: number): void {
    this.#writeN(offset, 4, new Uint8Array(new Uint32Array([value]).buffer));
  }

  /**
   * Writes 64 bits (host order) with one pwrite.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From pwrite.
   */
  write64(offset: number, value: bigint | number): void {
    this.#writeN(offset, 8, new Uint8Array(new BigUint64Array([BigInt(value)]).buffer));
  }

  /**
   * Maps the region, or a page-aligned window of it, with mmap(2). For a sparse region the
   * window must lie inside one of `info.mmapAreas` (see `mapAreas()`).
   *
   * @param options `offset` and `size` of the window within the region.
   * @returns A mapping whose accessor offsets are relative to the window's start.
   * @throws {TypeError} When the region cannot be mmapped, or is sparse and no window is given.
   * @throws {RangeError} When the window is misaligned or outside every mmap-able area.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From mmap.
   * @example
   * ```ts
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * const device = container.openDevice("0000:00:03.0");
   * const regs = device.region(0).map();
   * ```
   */
  map(options: RegionMapOptions = {}): MappedMemory {
    this.#check("map region");
    const info = this.#info;
    if (!info.mmappable || info.mmapAreas.length === 0) {
      throw new TypeError(`Cannot map ${this.#label}: the kernel does not allow mmap of it (flags 0x${info.flags.toString(16)}); use read()/write()`);
    }
    const offset = options.offset ?? 0;
    if (info.sparse && options.offset === undefined && options.size === undefined) {
      const areas = info.mmapAreas.map((a) => `0x${a.offset.toString(16)}+0x${a.size.toString(16)}`).join(", ");
      throw new TypeError(`Cannot map all of ${this.#label}: only its sparse areas can be mapped (${areas}); use mapAreas() or give one`);
    }
    const area = info.mmapAreas.find((a) => offset >= a.offset && offset < a.offset + a.size);
    if (area === undefined) {
      throw new RangeError(`Cannot map ${this.#label} at "0x${offset.toString(16)}": not inside an mmap-able area`);
    }
    const size = options.size ?? area.offset + area.size - offset;
    if (!Number.isInteger(size) || size <= 0 || offset + size > area.offset + area.size) {
      throw new RangeError(
        `Cannot map ${this.#label} at "0x${offset.toString(16)}+0x${Number(size).toString(16)}": ` +
          `outside the mmap-able area 0x${area.offset.toString(16)}+0x${area.size.toString(16)}`,
      );
    }
    if ((info.offset + offset) % pageSize() !== 0) {
      throw new RangeError(`Cannot map ${this.#label} at "0x${offset.toString(16)}": the offset must be page aligned`);
    }
    const prot = (info.readable ? PROT_READ : 0) | (info.writable ? PROT_WRITE : 0);
    for (const m of this.#mappings) if (m.closed) this.#mappings.delete(m);
    const m = MappedMemory.mapFile(this.#fd.fd, info.offset + offset, size, {
      prot,
      label: `mapping 0x${offset.toString(16)}+0x${size.toString(16)} of ${this.#label}`,
      path: this.#fd.path,
      op: `mmap ${this.#label}`,
    });
    this.#mappings.add(m);
    return m;
  }

  /**
   * Maps every mmap-able area (the sparse areas, or the whole region when it is not sparse).
   *
   * @returns One mapping per area, in `info.mmapAreas` order.
   * @throws {TypeError} When the region cannot be mmapped.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From mmap (mappings made before the failure are unmapped).
   */
  mapAreas(): MappedMemory[] {
    this.#check("map region areas");
    if (!this.#info.mmappable) throw new TypeError(`Cannot map ${this.#label}: the kernel does not allow mmap of it`);
    const out: MappedMemory[] = [];
    try {
      for (const a of this.#info.mmapAreas) out.push(this.map({ offset: a.offset, size: a.size }));
    } catch (e) {
      for (const m of out) {
        try {
          m.close();
        } catch {
          // The original failure is the one to report.
        }
      }
      throw e;
    }
    return out;
  }

  /**
   * Unmaps every mapping of the region (idempotent); further calls throw `ClosedError`.
   *
   * @throws The unmap failures, after trying them all.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const maps = [...this.#mappings];
    this.#mappings.clear();
    closeAll(this.#label, maps.map((m) => () => m.close()));
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
