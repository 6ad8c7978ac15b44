/**
 * A VFIO device: a PCI function bound to vfio-pci or a mediated device, opened through its
 * group (VFIO_GROUP_GET_DEVICE_FD). Its info, regions and IRQs are read from the kernel
 * once, on demand.
 *
 * @module
 */

import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_RESET,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from "../abi/vfio.ts";
import { decodeDeviceInfo, encodeDeviceInfo, type DeviceInfo, type IrqInfo } from "../abi/vfio_codec.ts";
import { type RegionInfo } from "../abi/vfio_caps.ts";
import { errnoValue } from "../sys/errno.ts";
import { ClosedError, closeAll, SyscallError } from "../sys/error.ts";
import type { Fd, IoctlTarget } from "../sys/fd.ts";
import { readIrqInfo, readRegionInfo } from "./info.ts";
import { Irq } from "./irq.ts";
import { PciConfig } from "./pci.ts";
import { Region } from "./region.ts";
import { vfioIoctl } from "./_ioctl.ts";

const EINVAL = errnoValue("EINVAL");

/** The group a device was opened from, as the device sees it (a `Group`). */
export interface DeviceGroup {
  readonly id: number;
  readonly path: string | undefined;
  readonly noiommu: boolean;
  readonly closed: boolean;
  readonly devices: readonly Device[];
  close(): void;
  [Symbol.dispose](): void;
}

/** Options of `Device.adopt()`. */
export interface DeviceAdoptOptions {
  /** @internal Answers the device's ioctls (tests pass a fake kernel); not public API. */
  readonly ioctl?: IoctlTarget;
  /** The device's sysfs directory, when known. */
  readonly sysfsPath?: string;
  /** The group it was opened from, for `device.group`. */
  readonly group?: DeviceGroup;
  /** Called once after the device closed (the group uses it to forget the device). */
  readonly onClose?: () => void;
}

/**
 * An open VFIO device.
 *
 * `close()` tears down in order: region mappings, interrupts (SET_IRQS disable, then their
 * eventfds), then the device fd. It goes on past failures and reports them all.
 *
 * @example
 * ```ts
 * import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const dev = container.openDevice("0000:00:03.0");
 * dev.info.numRegions; // 9 for vfio-pci
 * const bar0 = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
 * ```
 */
export class Device {
  #fd: Fd;
  #ioctl: IoctlTarget;
  #name: string;
  #label: string;
  #info: DeviceInfo;
  #sysfsPath: string | undefined;
  #group: DeviceGroup | undefined;
  #onClose: (() => void) | undefined;
  #regionInfos = new Map<number, RegionInfo>();
  #regions = new Map<number, Region>();
  #irqInfos = new Map<number, IrqInfo>();
  #irqs = new Map<number, Irq>();
  #pci: PciConfig | undefined;
  #closed = false;
  #closing = false;

  private constructor(fd: Fd, name: string, options: DeviceAdoptOptions) {
    this.#fd = fd;
    this.#name = name;
    this.#label = `VFIO device "${name}"`;
    this.#ioctl = options.ioctl ?? fd;
    this.#sysfsPath = options.sysfsPath;
    this.#group = options.group;
    this.#onClose = options.onClose;
    const buf = encodeDeviceInfo();
    vfioIoctl(this.#ioctl, VFIO_DEVICE_GET_INFO, buf);
    const { flags, numRegions, numIrqs, capOffset } = decodeDeviceInfo(buf);
    this.#info = Object.freeze({ flags, numRegions, numIrqs, capOffset });
  }

  /**
   * Takes ownership of a device fd (from VFIO_GROUP_GET_DEVICE_FD) and reads its info.
   * `Group.openDevice()` and `Container.openDevice()` are the usual way in.
   *
   * @param fd The device fd; closed by `close()` (and on failure here).
   * @param name The device name (PCI address or UUID).
   * @param options Injection points and hooks.
   * @throws {SyscallError} From VFIO_DEVICE_GET_INFO.
   * @example
   * ```ts
   * import { Fd } from "warpdrive/sys";
   * import { Device } from "warpdrive/vfio";
   *
   * declare const fd: Fd; // from VFIO_GROUP_GET_DEVICE_FD (see Fd.adopt)
   * const dev = Device.adopt(fd, "0000:00:03.0");
   * ```
   */
  static adopt(fd: Fd, name: string, options: DeviceAdoptOptions = {}): Device {
    try {
      return new Device(fd, name, options);
    } catch (e) {
      try {
        fd.close();
      } catch {
        // The info failure is the one to report.
      }
      throw e;
    }
  }

  #check(action: string): void {
    if (this.#closing) throw new ClosedError(action, this.#label);
  }

  /** The device name (PCI address or mediated device UUID). */
  get name(): string {
    return this.#name;
  }

  /** Its sysfs directory, when known. */
  get sysfsPath(): string | undefined {
    return this.#sysfsPath;
  }

  /** The `Group` it was opened from, when opened through one. */
  get group(): DeviceGroup | undefined {
    return this.#group;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /**
   * VFIO_DEVICE_GET_INFO, read at open.
   *
   * @throws {ClosedError} After close.
   */
  get info(): DeviceInfo {
    this.#check("read device info");
    return this.#info;
  }

  /** Whether it is a vfio-pci device (VFIO_DEVICE_FLAGS_PCI). */
  get isPci(): boolean {
    return (this.#info.flags & VFIO_DEVICE_FLAGS_PCI) !== 0;
  }

  /** Whether VFIO_DEVICE_RESET is supported. */
  get canReset(): boolean {
    return (this.#info.flags & VFIO_DEVICE_FLAGS_RESET) !== 0;
  }

  /**
   * The device fd number (for advanced callers; owned by this object).
   *
   * @throws {ClosedError} After close.
   */
  get fd(): number {
    this.#check("use the device fd");
    return this.#fd.fd;
  }

  #checkIndex(kind: string, index: number, max: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= max) {
      throw new RangeError(`Cannot read ${kind} "${index}" of ${this.#label}: it has indexes 0..${max - 1}`);
    }
  }

  /**
   * The description of region `index` (read once, then cached).
   *
   * @throws {RangeError} Index outside `info.numRegions`.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_DEVICE_GET_REGION_INFO.
   */
  regionInfo(index: number): RegionInfo {
    this.#check("read region info");
    this.#checkIndex("region", index, this.#info.numRegions);
    let info = this.#regionInfos.get(index);
    if (info === undefined) {
      info = readRegionInfo(this.#ioctl, index);
      this.#regionInfos.set(index, info);
    }
    return info;
  }

  /**
   * Every region the kernel describes (indexes it refuses with EINVAL, like a missing VGA
   * region, are left out).
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} Other than EINVAL.
   */
  regions(): RegionInfo[] {
    this.#check("list regions");
    const out: RegionInfo[] = [];
    for (let i = 0; i < this.#info.numRegions; i++) {
      try {
        out.push(this.regionInfo(i));
      } catch (e) {
        if (!(e instanceof SyscallError && e.errno === EINVAL)) throw e;
      }
    }
    return out;
  }

  /**
   * Region `index` (one object per index, closed with the device).
   *
   * @throws {RangeError} Index outside `info.numRegions`.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_DEVICE_GET_REGION_INFO.
   */
  region(index: number): Region {
    const info = this.regionInfo(index);
    let r = this.#regions.get(index);
    if (r === undefined) {
      r = Region.fromFd(this.#fd, info, { label: `region ${index} of ${this.#label}`, alive: () => !this.#closed });
      this.#regions.set(index, r);
    }
    return r;
  }

  /**
   * The description of IRQ index `index` (read once).
   *
   * @throws {RangeError} Index outside `info.numIrqs`.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_DEVICE_GET_IRQ_INFO.
   */
  irqInfo(index: number): IrqInfo {
    this.#check("read IRQ info");
    this.#checkIndex("IRQ index", index, this.#info.numIrqs);
    let info = this.#irqInfos.get(index);
    if (info === undefined) {
      info = readIrqInfo(this.#ioctl, index);
      this.#irqInfos.set(index, info);
    }
    return info;
  }

  /**
   * IRQ index `index` (one object per index, closed with the device).
   *
   * @throws {RangeError} Index outside `info.numIrqs`.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_DEVICE_GET_IRQ_INFO.
   */
  irq(index: number): Irq {
    const info = this.irqInfo(index);
    let irq = this.#irqs.get(index);
    if (irq === undefined) {
      irq = Irq.fromTarget(this.#ioctl, info, { label: `IRQ index ${index} of ${this.#label}`, alive: () => !this.#closed });
      this.#irqs.set(index, irq);
    }
    return irq;
  }

  /**
   * VFIO_DEVICE_RESET.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} EINVAL/ENOTTY when the device cannot be reset.
   */
  reset(): void {
    this.#check("reset");
    try {
      vfioIoctl(this.#ioctl, VFIO_DEVICE_RESET, undefined);
    } catch (e) {
      if (e instanceof SyscallError && !this.canReset) throw e.withHint(`${this.#label} does not advertise reset support`);
      throw e;
    }
  }

  /**
   * PCI config-space accessors (vfio-pci devices only).
   *
   * @throws {TypeError} When the device is not a vfio-pci device.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From VFIO_DEVICE_GET_REGION_INFO.
   */
  pciConfig(): PciConfig {
    this.#check("open PCI config space");
    if (!this.isPci) throw new TypeError(`Cannot open PCI config space of ${this.#label}: it is not a vfio-pci device`);
    this.#pci ??= new PciConfig(this.region(VFIO_PCI_CONFIG_REGION_INDEX));
    return this.#pci;
  }

  /**
   * Closes mappings, interrupts and eventfds, then the device fd (idempotent).
   *
   * @throws The failures, after trying every step.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const steps: (() => void)[] = [];
    for (const r of this.#regions.values()) steps.push(() => r.close());
    for (const irq of this.#irqs.values()) steps.push(() => irq.close());
    steps.push(() => {
      this.#closed = true;
      this.#fd.close();
    });
    const onClose = this.#onClose;
    if (onClose !== undefined) steps.push(onClose);
    try {
      closeAll(this.#label, steps);
    } finally {
      this.#closed = true;
    }
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
