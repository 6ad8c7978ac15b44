/**
 * `MappedMemory`, a mapping with checked register accessors and typed-array views that
 * stop working when the mapping is closed. The system calls it uses are in mmap.ts and
 * are re-exported here, where callers have always found them.
 *
 * @module
 */

import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../abi/libc.ts";
import { view as ffiView } from "./_ffi.ts";
import { ClosedError } from "./error.ts";
import { detach, ftruncate, memfdCreate, mmap, munmap, pageSize, regularFileSize, retiredRanges, roundUpToPage } from "./mmap.ts";

export { ftruncate, memfdCreate, mmap, munmap, pageSize, roundUpToPage };

type TypedArrayCtor<T> = {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
};



const EMPTY = new ArrayBuffer(0);

/** Options of `MappedMemory.mapFile`. */
export interface MapFileOptions {
  /** PROT_* bits; read and write by default. */
  readonly prot?: number;
  /** Names the mapping in "is closed" errors. */
  readonly label?: string;
  /** The file's path, for errors. */
  readonly path?: string;
  /** The operation name for errors (`"mmap region 0"`). */
  readonly op?: string;
}

/**
 * A mapping (device registers, a DMA buffer, shared memory) with:
 * - checked accessors `read8/16/32/64`, `write8/16/32/64` that refuse out-of-bounds,
 *   misaligned or after-close accesses, built on typed-array element loads and stores (one
 *   access of the exact width; never DataView, which tears in V8);
 * - `view()`/`bytes()` typed arrays for fast paths over rings and buffers, all over one
 *   ArrayBuffer that `close()` detaches where the runtime allows (Bun, Deno), so a stale
 *   view throws or reads nothing instead of touching freed memory. Where detaching is not
 *   possible (Node 20) and views were handed out, `close()` replaces the range with
 *   private anonymous memory instead of unmapping it, so stale views see harmless zeros;
 *   the retired range is unmapped once the last view of it has been collected, so closed
 *   mappings do not keep their address space for the life of the process.
 *
 * @example
 * ```ts
 * import { MappedMemory } from "warpdrive/sys";
 *
 * using mem = MappedMemory.anonymous(4096);
 * mem.write32(0, 0xdeadbeef);
 * mem.read32(0); // 0xdeadbeef
 * ```
 */
export class MappedMemory {
  #address: bigint;
  #size: number;
  #label: string;
  #path: string | undefined;
  #readable: boolean;
  #writable: boolean;
  #closed = false;
  #viewsGiven = false;
  #ab: ArrayBuffer;
  #u8: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  #u64: BigUint64Array;

  private constructor(address: bigint, size: number, prot: number, label: string, path: string | undefined) {
    this.#address = address;
    this.#size = size;
    this.#label = label;
    this.#path = path;
    this.#readable = (prot & PROT_READ) !== 0;
    this.#writable = (prot & PROT_WRITE) !== 0;
    // The view aliases the mapping; it lives until close() detaches it, before munmap.
    this.#ab = ffiView(address, size);
    // Element views of the whole mapping; a partial last element is simply not reachable.
    this.#u8 = new Uint8Array(this.#ab);
    this.#u16 = new Uint16Array(this.#ab, 0, Math.floor(size / 2));
    this.#u32 = new Uint32Array(this.#ab, 0, Math.floor(size / 4));
    this.#u64 = new BigUint64Array(this.#ab, 0, Math.floor(size / 8));
  }

  /**
   * Private anonymous memory, page aligned and zeroed (for DMA buffers and tests).
   *
   * @param size Bytes; rounded up to whole pages.
   * @param options `label` names it in errors.
   * @throws {RangeError} When size is not a positive integer.
   * @throws {SyscallError} ENOMEM from mmap.
   * @example
   * ```ts
   * import { MappedMemory } from "warpdrive/sys";
   *
   * const buf = MappedMemory.anonymous(8192, { label: "DMA buffer" });
   * ```
   */
  static anonymous(size: number, options: { readonly label?: string } = {}): MappedMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`Cannot allocate "${size}" bytes: size must be a positive integer`);
    const len = roundUpToPage(size);
    const p = mmap(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { op: "anonymous memory" });
    return new MappedMemory(p, len, PROT_READ | PROT_WRITE, options.label ?? "anonymous memory", undefined);
  }

  /**
   * A shared mapping of `size` bytes of a file at `offset` (a device region, a memfd).
   *
   * @param fd The open descriptor (the mapping keeps the file referenced after it closes).
   * @param offset Page-aligned file offset.
   * @param size Bytes to map.
   * @param options Protection, label and path.
   * @throws {RangeError} When offset or size is invalid, or when `fd` is a regular file (or
   *   a memfd) and the mapping would reach past its end: touching those pages would kill
   *   the process with SIGBUS. Device fds are not checked: their size is the driver's.
   * @throws {SyscallError} From mmap (EINVAL for a region that refuses mmap, …).
   * @example
   * ```ts
   * import { MappedMemory } from "warpdrive/sys";
   * import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * const device = container.openDevice("0000:00:03.0");
   * const region = device.regionInfo(VFIO_PCI_BAR0_REGION_INDEX);
   * const bar0 = MappedMemory.mapFile(device.fd, region.offset, region.size, { label: "BAR0" });
   * ```
   */
  static mapFile(fd: number, offset: number, size: number, options: MapFileOptions = {}): MappedMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`Cannot map "${size}" bytes: size must be a positive integer`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % pageSize() !== 0) {
      throw new RangeError(`Cannot map at offset "0x${offset.toString(16)}": it must be a page-aligned non-negative integer`);
    }
    const fileSize = regularFileSize(fd);
    if (fileSize !== undefined && offset + size > fileSize) {
      throw new RangeError(
        `Cannot map "0x${offset.toString(16)}+0x${size.toString(16)}" of ${options.path ?? `fd ${fd}`}: it reaches past the end of the file ` +
          `(0x${fileSize.toString(16)} bytes); grow the file first (ftruncate)`,
      );
    }
    const prot = options.prot ?? PROT_READ | PROT_WRITE;
    const p = mmap(null, size, prot, MAP_SHARED, fd, offset, { op: options.op, path: options.path });
    return new MappedMemory(p, size, prot, options.label ?? `mapping of "${options.path ?? `fd ${fd}`}"`, options.path);
  }

  /**
   * The mapping's address.
   *
   * @throws {ClosedError} After close.
   */
  get address(): bigint {
    this.#check("get the address");
    return this.#address;
  }

  /** Size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** What this mapping is, for messages. */
  get label(): string {
    return this.#label;
  }

  #check(action: string): void {
    if (this.#closed) throw new ClosedError(action, this.#label);
  }

  #at(offset: number, width: number, write: boolean): number {
    const action = `${write ? "write" : "read"} ${width * 8}-bit value at offset "0x${Number(offset).toString(16)}"`;
    this.#check(action);
    if (!Number.isInteger(offset) || offset < 0 || offset + width > this.#size) {
      throw new RangeError(`Cannot ${action}: outside ${this.#label} (0x0..0x${this.#size.toString(16)})`);
    }
    if (offset % width !== 0) throw new RangeError(`Cannot ${action}: offset must be ${width}-byte aligned`);
    if (write ? !this.#writable : !this.#readable) {
      throw new TypeError(`Cannot ${action}: ${this.#label} is not mapped ${write ? "writable" : "readable"}`);
    }
    return offset / width;
  }

  /**
   * Reads 8 bits.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   */
  read8(offset: number): number {
    return this.#u8[this.#at(offset, 1, false)]!;
  }

  /**
   * Reads 16 bits (host byte order), one access.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  read16(offset: number): number {
    return this.#u16[this.#at(offset, 2, false)]!;
  }

  /**
   * Reads 32 bits (host byte order), one access.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  read32(offset: number): number {
    return this.#u32[this.#at(offset, 4, false)]!;
  }

  /**
   * Reads 64 bits (host byte order), one access, as a bigint.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  read64(offset: number): bigint {
    return this.#u64[this.#at(offset, 8, false)]!;
  }

  /**
   * Writes 8 bits.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   */
  write8(offset: number, value: number): void {
    this.#u8[this.#at(offset, 1, true)] = value;
  }

  /**
   * Writes 16 bits (host byte order), one access.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  write16(offset: number, value: number): void {
    this.#u16[this.#at(offset, 2, true)] = value;
  }

  /**
   * Writes 32 bits (host byte order), one element store (never torn).
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  write32(offset: number, value: number): void {
    this.#u32[this.#at(offset, 4, true)] = value;
  }

  /**
   * Writes 64 bits (host byte order), one element store.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After close.
   */
  write64(offset: number, value: bigint | number): void {
    this.#u64[this.#at(offset, 8, true)] = BigInt(value);
  }

  /**
   * Copies bytes into the mapping (memory, not registers: the copy may use any width).
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   */
  copyIn(offset: number, src: Uint8Array): void {
    this.#range("copy into", offset, src.byteLength, true);
    this.#u8.set(src, offset);
  }

  /**
   * Copies bytes out of the mapping into a new array (memory, not registers).
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   */
  copyOut(offset: number, length: number): Uint8Array {
    this.#range("copy out of", offset, length, false);
    return this.#u8.slice(offset, offset + length);
  }

  #range(action: string, offset: number, length: number, write: boolean): void {
    const what = `${action} ${this.#label} at "0x${Number(offset).toString(16)}+0x${Number(length).toString(16)}"`;
    this.#check(what);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.#size) {
      throw new RangeError(`Cannot ${what}: outside 0x0..0x${this.#size.toString(16)}`);
    }
    if (write ? !this.#writable : !this.#readable) {
      throw new TypeError(`Cannot ${what}: not mapped ${write ? "writable" : "readable"}`);
    }
  }

  /**
   * A typed-array view over part of the mapping, for fast paths over shared memory (rings,
   * buffers). All views share one ArrayBuffer that `close()` detaches (Bun, Deno): stale
   * views then have length 0. Only for read-write mappings, since a store through a view
   * of a read-only mapping would fault.
   *
   * @param ctor `Uint8Array`, `Uint32Array`, `BigUint64Array`, …
   * @param byteOffset Start, aligned to the element size.
   * @param length Number of elements (to the end by default).
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {TypeError} Read-only mapping.
   * @throws {ClosedError} After close.
   * @example
   * ```ts
   * import { MappedMemory } from "warpdrive/sys";
   *
   * using mem = MappedMemory.anonymous(8192);
   * const ring = mem.view(Uint32Array, 0x1000, 256);
   * ```
   */
  view<T extends ArrayBufferView>(ctor: TypedArrayCtor<T>, byteOffset = 0, length?: number): T {
    const width = ctor.BYTES_PER_ELEMENT;
    const n = length ?? Math.floor((this.#size - byteOffset) / width);
    this.#range("view", byteOffset, n * width, true);
    if (byteOffset % width !== 0) throw new RangeError(`Cannot view ${this.#label} at "0x${byteOffset.toString(16)}": offset must be ${width}-byte aligned`);
    this.#viewsGiven = true;
    return new ctor(this.#ab, byteOffset, n);
  }

  /**
   * A `Uint8Array` view (see `view()`).
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After close.
   */
  bytes(byteOffset = 0, length?: number): Uint8Array {
    return this.view(Uint8Array, byteOffset, length);
  }

  /**
   * Unmaps (idempotent). Views handed out are detached first; where that is impossible the
   * range is replaced by anonymous memory instead (see the class description).
   *
   * @throws {SyscallError} From munmap/mmap, the first time only.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const detached = detach(this.#ab);
    if (!detached && this.#viewsGiven) {
      // Stale views may still reach this range: keep it mapped, but to harmless memory.
      mmap(this.#address, this.#size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, {
        op: `retire ${this.#label}`,
        path: this.#path,
      });
      // This object lets go of the buffer; when the views handed out are gone too, the
      // registry unmaps the range (the address space is not kept for the process's life).
      retiredRanges?.register(this.#ab, { address: this.#address, size: this.#size });
      this.#dropViews();
      return;
    }
    munmap(this.#address, this.#size, { op: `unmap ${this.#label}`, path: this.#path });
  }

  #dropViews(): void {
    this.#ab = EMPTY;
    this.#u8 = new Uint8Array(EMPTY);
    this.#u16 = new Uint16Array(EMPTY);
    this.#u32 = new Uint32Array(EMPTY);
    this.#u64 = new BigUint64Array(EMPTY);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
