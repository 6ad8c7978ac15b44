/**
 * The VFIO container (`/dev/vfio/vfio`): an IOMMU context holding groups, and the DMA
 * mappings their devices use.
 *
 * @module
 */

import { join } from "node:path";
import { O_CLOEXEC, O_RDWR } from "../abi/libc.ts";
import { VFIO_API_VERSION, VFIO_GET_API_VERSION, VFIO_NOIOMMU_IOMMU } from "../abi/vfio.ts";
import type { IommuInfo } from "../abi/vfio_caps.ts";
import { ClosedError, closeAll, SyscallError } from "../sys/error.ts";
import { Fd, type IoctlTarget } from "../sys/fd.ts";
import type { MappedMemory } from "../sys/mman.ts";
import type { Device } from "./device.ts";
import type { DmaBuffer } from "./dma.ts";
import { VfioError } from "./errors.ts";
import { Group } from "./group.ts";
import { type DmaOptions, Iommu } from "./iommu.ts";
import { vfioIoctl } from "./_ioctl.ts";
import { locateDevice, type DeviceRef } from "./locate.ts";

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
  /** @internal Wraps each fd's ioctls (tests substitute a fake kernel); not public API. */
  readonly ioctl?: (fd: Fd) => IoctlTarget;
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
 * import { Container } from "warpdrive/vfio";
 *
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
  #iommu: Iommu;
  #closing = false;
  #label: string;

  private constructor(fd: Fd, options: ContainerOptions) {
    this.#fd = fd;
    this.#options = options;
    this.#ioctl = (options.ioctl ?? ((f: Fd) => f))(fd);
    this.#label = `VFIO container "${fd.path}"`;
    this.#iommu = new Iommu(this.#ioctl, this.#label, () => !fd.closed);
  }

  /**
   * Opens `/dev/vfio/vfio` and checks the API version.
   *
   * @param options Paths, IOMMU preferences, no-IOMMU permission.
   * @throws {SyscallError} ENOENT when VFIO is not loaded, EACCES without permission.
   * @throws {Error} Code "ERR_VFIO_API_VERSION" when the kernel speaks another version.
   * @example
   * ```ts
   * import { Container } from "warpdrive/vfio";
   *
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
      const v = vfioIoctl(c.#ioctl, VFIO_GET_API_VERSION, undefined);
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
    return this.#iommu.type;
  }

  /**
   * VFIO_IOMMU_GET_INFO, read when the IOMMU was set (undefined before, and for no-IOMMU).
   *
   * @throws {ClosedError} After close.
   */
  get iommuInfo(): IommuInfo | undefined {
    this.#check("read IOMMU info");
    return this.#iommu.info;
  }

  /** The groups attached and open. */
  get groups(): readonly Group[] {
    return [...this.#groups.values()];
  }

  /** The DMA buffers mapped and not closed. */
  get dmaBuffers(): readonly DmaBuffer[] {
    return this.#iommu.buffers;
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
    return this.#iommu.checkExtension(extension);
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
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
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
      if (this.#iommu.type === VFIO_NOIOMMU_IOMMU && !group.noiommu) {
        throw new TypeError(`Cannot add IOMMU-backed VFIO group ${id} to a no-IOMMU container: open another container`);
      }
      group.attach({
        container: this,
        containerFd: this.#fd,
        beforeClose: (g) => this.#groupClosing(g),
        afterClose: (g) => this.#groupClosed(g),
      });
      this.#groups.set(id, group);
      if (this.#iommu.type === undefined) this.#iommu.set(group, this.#options);
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
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
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

  #groupClosing(group: Group): void {
    const others = [...this.#groups.values()].filter((g) => g !== group && !g.closed);
    // The kernel drops the IOMMU (and every mapping) when the last group leaves: unmap first.
    if (others.length === 0) this.#iommu.releaseAll();
  }

  #groupClosed(group: Group): void {
    if (this.#groups.get(group.id) === group) this.#groups.delete(group.id);
    if (this.#groups.size === 0) {
      this.#iommu.reset();
    }
  }


  /**
   * Allocates page-aligned anonymous memory and maps it for DMA.
   *
   * @param size Bytes (rounded up to whole pages).
   * @param options IOVA, address width, device access.
   * @returns The buffer; `close()` unmaps and frees it.
   * @throws {RangeError} Bad size or IOVA, or no IOVA space below the address limit.
   * @throws {TypeError} Before a group is attached, or on a no-IOMMU container.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_IOMMU_MAP_DMA (EEXIST for a fixed IOVA already mapped;
   *   ENOMEM past RLIMIT_MEMLOCK where the kernel pins, with how much is needed and how to raise it).
   * @example
   * ```ts
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * container.openDevice("0000:00:03.0"); // the first group sets the IOMMU
   * const buf = container.allocDma(4096, { addressBits: 28 });
   * ```
   */
  allocDma(size: number, options: DmaOptions = {}): DmaBuffer {
    this.#check("allocate DMA memory");
    return this.#iommu.allocDma(size, options);
  }

  /**
   * Maps memory the caller owns (page aligned, e.g. `MappedMemory.anonymous`) for DMA. The
   * caller must keep it mapped until the returned buffer is closed.
   *
   * @throws See `allocDma`.
   */
  mapDma(memory: MappedMemory, options: DmaOptions = {}): DmaBuffer {
    this.#check("map DMA memory");
    return this.#iommu.mapDma(memory, options);
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
    steps.push(() => this.#iommu.releaseAll());
    for (const g of groups) steps.push(() => g.close());
    steps.push(() => this.#fd.close());
    closeAll(this.#label, steps);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
