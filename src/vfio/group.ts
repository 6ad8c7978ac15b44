/**
 * A VFIO group (`/dev/vfio/<n>`, or `/dev/vfio/noiommu-<n>`): the unit of isolation the
 * IOMMU gives, opened once at a time system-wide, attached to a container, and the way
 * to device fds.
 *
 * @module
 */

import { join } from "node:path";
import { O_CLOEXEC, O_RDWR } from "../abi/libc.ts";
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
} from "../abi/vfio.ts";
import { decodeGroupStatus, encodeGroupStatus } from "../abi/vfio_codec.ts";
import { ClosedError, closeAll, SyscallError } from "../sys/error.ts";
import { Fd, type IoctlTarget } from "../sys/fd.ts";
import { Device } from "./device.ts";
import { VfioError } from "./errors.ts";
import { vfioIoctl } from "./_ioctl.ts";
import { viabilityAdvice } from "./locate.ts";

/** Options of `Group.open()`. */
export interface GroupOpenOptions {
  /** Where `vfio/` lives; `/dev` by default. */
  readonly devRoot?: string;
  /** The sysfs mount; `/sys` by default (for the viability advice). */
  readonly sysfsRoot?: string;
  /** Accept a no-IOMMU group (`noiommu-<n>`): no isolation, no DMA translation. */
  readonly allowNoIommu?: boolean;
  /** @internal Wraps each fd's ioctls (tests substitute a fake kernel); not public API. */
  readonly ioctl?: (fd: Fd) => IoctlTarget;
}

/** What VFIO_GROUP_GET_STATUS says. */
export interface GroupStatus {
  /** Every device of the group is bound to a VFIO driver or to none. */
  readonly viable: boolean;
  /** The group is attached to a container. */
  readonly containerSet: boolean;
}

/** How a group is tied to its container (supplied by `Container`). */
/** The container as its groups see it (a `Container`). */
export interface GroupContainer {
  readonly closed: boolean;
  readonly iommuType: number | undefined;
  close(): void;
}

export interface GroupLink {
  /** The container object, for `group.container`. */
  readonly container: GroupContainer;
  /** The container fd, for VFIO_GROUP_SET_CONTAINER. */
  readonly containerFd: Fd;
  /** Called after the group's devices closed, before its fd closes. */
  readonly beforeClose: (group: Group) => void;
  /** Called after the group's fd closed. */
  readonly afterClose: (group: Group) => void;
}

function errCodeIs(e: unknown, ...codes: string[]): boolean {
  return e instanceof SyscallError && codes.includes(e.code);
}

/**
 * An open VFIO group.
 *
 * Usually obtained through `Container.openGroup()` or `Container.openDevice()`, which also
 * attach it and set up the IOMMU. `close()` closes the group's devices first.
 *
 * @example
 * ```ts
 * import { Container } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const group = container.openGroup(12);
 * const dev = group.openDevice("0000:00:03.0");
 * ```
 */
export class Group {
  #id: number;
  #fd: Fd;
  #ioctl: IoctlTarget;
  #wrap: (fd: Fd) => IoctlTarget;
  #noiommu: boolean;
  #sysfsRoot: string;
  #label: string;
  #link: GroupLink | undefined;
  #devices = new Set<Device>();
  #closing = false;

  private constructor(id: number, fd: Fd, noiommu: boolean, options: GroupOpenOptions) {
    this.#id = id;
    this.#fd = fd;
    this.#noiommu = noiommu;
    this.#wrap = options.ioctl ?? ((f) => f);
    this.#ioctl = this.#wrap(fd);
    this.#sysfsRoot = options.sysfsRoot ?? "/sys";
    this.#label = `VFIO group ${id}`;
  }

  /**
   * Opens `/dev/vfio/<id>` (or `noiommu-<id>` when allowed) and checks it is viable.
   *
   * @param id The IOMMU group number.
   * @param options Paths, no-IOMMU permission, ioctl injection.
   * @throws {SyscallError} EBUSY when another process holds the group; ENOENT when there
   *   is no such group node; EACCES without permission — each with advice.
   * @throws {Error} Code "ERR_VFIO_GROUP_NOT_VIABLE" naming the devices to unbind.
   * @example
   * ```ts
   * import { Group } from "warpdrive/vfio";
   *
   * const g = Group.open(12);
   * ```
   */
  static open(id: number, options: GroupOpenOptions = {}): Group {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`Cannot open VFIO group "${id}": it must be a non-negative integer`);
    const dir = join(options.devRoot ?? "/dev", "vfio");
    const label = `VFIO group ${id}`;
    let fd: Fd;
    let noiommu = false;
    try {
      fd = Fd.open(join(dir, String(id)), O_RDWR | O_CLOEXEC, { label });
    } catch (e) {
      if (!errCodeIs(e, "ENOENT")) throw Group.#explainOpen(e, id);
      let noiommuFd: Fd | undefined;
      try {
        noiommuFd = options.allowNoIommu ? Fd.open(join(dir, `noiommu-${id}`), O_RDWR | O_CLOEXEC, { label: `${label} (no IOMMU)` }) : undefined;
      } catch (e2) {
        if (!errCodeIs(e2, "ENOENT")) throw Group.#explainOpen(e2, id);
      }
      if (noiommuFd === undefined) throw Group.#explainOpen(e, id, dir, options.allowNoIommu ?? false);
      fd = noiommuFd;
      noiommu = true;
    }
    const group = new Group(id, fd, noiommu, options);
    try {
      const status = group.status();
      if (!status.viable) {
        const advice = viabilityAdvice(id, group.#sysfsRoot);
        throw new VfioError(`Cannot use ${label}: it is not viable; ${advice}`, { code: "ERR_VFIO_GROUP_NOT_VIABLE", path: fd.path });
      }
    } catch (e) {
      try {
        fd.close();
      } catch {
        // The status failure is the one to report.
      }
      throw e;
    }
    return group;
  }

  static #explainOpen(e: unknown, id: number, dir?: string, allowNoIommu = false): unknown {
    if (!(e instanceof SyscallError)) return e;
    switch (e.code) {
      case "EBUSY":
        return e.withHint(`another process holds VFIO group ${id} (a group opens once at a time); close it there or choose another device`);
      case "ENOENT": {
        const noiommu = dir === undefined ? "" : ` (or, without an IOMMU, "${join(dir, `noiommu-${id}`)}"${allowNoIommu ? "" : " with allowNoIommu"})`;
        return e.withHint(`no VFIO group node${noiommu}: bind the device to vfio-pci (driver_override, then drivers_probe) and load the vfio modules`);
      }
      case "EACCES":
      case "EPERM":
        return e.withHint(`run as root or give this user read-write access to the group node`);
      default:
        return e;
    }
  }

  #check(action: string): void {
    if (this.#closing) throw new ClosedError(action, this.#label);
  }

  /** The IOMMU group number. */
  get id(): number {
    return this.#id;
  }

  /** The group node's path. */
  get path(): string | undefined {
    return this.#fd.path;
  }

  /** Whether it is a no-IOMMU group (no isolation, no DMA mapping). */
  get noiommu(): boolean {
    return this.#noiommu;
  }

  /** The container it is attached to, if any. */
  get container(): GroupContainer | undefined {
    return this.#link?.container;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** The devices opened through this group and still open. */
  get devices(): readonly Device[] {
    return [...this.#devices];
  }

  /**
   * VFIO_GROUP_GET_STATUS.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl.
   */
  status(): GroupStatus {
    this.#check("read group status");
    const buf = encodeGroupStatus();
    vfioIoctl(this.#ioctl, VFIO_GROUP_GET_STATUS, buf);
    const { flags } = decodeGroupStatus(buf);
    return { viable: (flags & VFIO_GROUP_FLAGS_VIABLE) !== 0, containerSet: (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0 };
  }

  /**
   * Attaches the group to a container (VFIO_GROUP_SET_CONTAINER), skipped when the kernel
   * says it already is. Called by `Container`.
   *
   * @throws {TypeError} When already attached to another container.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl (EBUSY: attached elsewhere; EPERM: not viable).
   */
  attach(link: GroupLink): void {
    this.#check("attach to a container");
    if (this.#link !== undefined) {
      if (this.#link.container === link.container) return;
      throw new TypeError(`Cannot attach ${this.#label} to a second container: it is already attached to one`);
    }
    if (!this.status().containerSet) {
      try {
        vfioIoctl(this.#ioctl, VFIO_GROUP_SET_CONTAINER, new Int32Array([link.containerFd.fd]));
      } catch (e) {
        if (errCodeIs(e, "EBUSY")) throw (e as SyscallError).withHint(`${this.#label} is already attached to another container`);
        if (errCodeIs(e, "EPERM")) throw (e as SyscallError).withHint(`${this.#label} is not viable; ${viabilityAdvice(this.#id, this.#sysfsRoot)}`);
        throw e;
      }
    }
    this.#link = link;
  }

  /**
   * Opens a device of this group (VFIO_GROUP_GET_DEVICE_FD). The group must be attached to
   * a container whose IOMMU is set (`Container.openGroup()` does both).
   *
   * @param name The device name: PCI address or mediated device UUID.
   * @param options `sysfsPath` to record on the device.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} EINVAL/ENODEV when the device is not in this group, with advice.
   * @example
   * ```ts
   * import { Container } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * const group = container.openGroup(12);
   * const dev = group.openDevice("0000:00:03.0");
   * ```
   */
  openDevice(name: string, options: { readonly sysfsPath?: string } = {}): Device {
    this.#check(`open device "${name}"`);
    let raw: number;
    try {
      raw = vfioIoctl(this.#ioctl, VFIO_GROUP_GET_DEVICE_FD, name);
    } catch (e) {
      if (errCodeIs(e, "EINVAL", "ENODEV")) {
        throw (e as SyscallError).withHint(
          `device "${name}" is not in ${this.#label}, or the group has no container with an IOMMU set ` +
            `(see ${join(this.#sysfsRoot, "kernel", "iommu_groups", String(this.#id), "devices")})`,
        );
      }
      throw e;
    }
    const fd = Fd.adopt(raw, { label: `VFIO device "${name}"`, path: this.#fd.path });
    const device = Device.adopt(fd, name, {
      ioctl: this.#wrap(fd),
      sysfsPath: options.sysfsPath,
      group: this,
      onClose: () => this.#devices.delete(device),
    });
    this.#devices.add(device);
    return device;
  }

  /**
   * Closes every device opened through this group (the group stays open).
   *
   * @throws The failures, after trying every device.
   */
  closeDevices(): void {
    const devices = [...this.#devices];
    closeAll(`devices of ${this.#label}`, devices.map((d) => () => d.close()));
  }

  /**
   * Closes the group's devices, lets the container release its DMA mappings when this is
   * its last group, then closes the group fd (which detaches it from the container).
   * Idempotent.
   *
   * @throws The failures, after trying every step.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const link = this.#link;
    const steps: (() => void)[] = [() => this.closeDevices()];
    if (link !== undefined) steps.push(() => link.beforeClose(this));
    steps.push(() => this.#fd.close());
    if (link !== undefined) steps.push(() => link.afterClose(this));
    closeAll(this.#label, steps);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
