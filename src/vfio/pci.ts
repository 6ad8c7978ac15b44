/**
 * PCI configuration space of a vfio-pci device, through its config region
 * (VFIO_PCI_CONFIG_REGION_INDEX) with pread/pwrite. VFIO virtualizes parts of it; writes to
 * the command register reach the device.
 *
 * @module
 */

import {
  PCI_CAPABILITY_LIST,
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_VENDOR_ID,
} from "../abi/pci.ts";
import type { Region } from "./region.ts";

/** A capability found in the PCI capability list. */
export interface PciCapability {
  /** PCI_CAP_ID_* value. */
  readonly id: number;
  /** Offset in config space. */
  readonly offset: number;
}

/**
 * Config-space accessors for a vfio-pci device.
 *
 * @example
 * ```ts
 * import { Container } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const device = container.openDevice("0000:00:03.0");
 * const pci = device.pciConfig();
 * pci.vendorId; // 0x1234 for edu
 * pci.setBusMaster(true); // DMA and MSI move nothing without it
 * ```
 */
export class PciConfig {
  #region: Region;

  /**
   * Wraps a config region (normally from `Device.pciConfig()`).
   *
   * @param region The device's VFIO_PCI_CONFIG_REGION_INDEX region.
   */
  constructor(region: Region) {
    this.#region = region;
  }

  /** The underlying region (for raw reads and writes). */
  get region(): Region {
    return this.#region;
  }

  /**
   * Reads 8 bits of config space.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread.
   */
  read8(offset: number): number {
    return this.#region.read8(offset);
  }

  /**
   * Reads 16 bits of config space (little endian on the bus; VFIO returns it in host order
   * on little-endian hosts).
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread.
   */
  read16(offset: number): number {
    return this.#region.read16(offset);
  }

  /**
   * Reads 32 bits of config space.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread.
   */
  read32(offset: number): number {
    return this.#region.read32(offset);
  }

  /**
   * Writes 8 bits of config space.
   *
   * @throws {RangeError} Out of bounds.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pwrite.
   */
  write8(offset: number, value: number): void {
    this.#region.write8(offset, value);
  }

  /**
   * Writes 16 bits of config space.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pwrite.
   */
  write16(offset: number, value: number): void {
    this.#region.write16(offset, value);
  }

  /**
   * Writes 32 bits of config space.
   *
   * @throws {RangeError} Out of bounds or misaligned.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pwrite.
   */
  write32(offset: number, value: number): void {
    this.#region.write32(offset, value);
  }

  /** Vendor id (PCI_VENDOR_ID). */
  get vendorId(): number {
    return this.read16(PCI_VENDOR_ID);
  }

  /** Device id (PCI_DEVICE_ID). */
  get deviceId(): number {
    return this.read16(PCI_DEVICE_ID);
  }

  /** Revision id. */
  get revision(): number {
    return this.read8(PCI_REVISION_ID);
  }

  /** The 24-bit class code (base class, subclass, programming interface). */
  get classCode(): number {
    return (this.read16(PCI_CLASS_DEVICE) << 8) | this.read8(PCI_CLASS_PROG);
  }

  /** The command register (PCI_COMMAND). */
  get command(): number {
    return this.read16(PCI_COMMAND);
  }

  /** The status register (PCI_STATUS). */
  get status(): number {
    return this.read16(PCI_STATUS);
  }

  #setCommandBits(bits: number, on: boolean): number {
    const before = this.command;
    const after = on ? before | bits : before & ~bits;
    if (after !== before) this.write16(PCI_COMMAND, after);
    return this.command;
  }

  /**
   * Sets or clears bus mastering (PCI_COMMAND_MASTER). vfio-pci leaves it off: a device's
   * DMA and MSI writes go nowhere until it is set.
   *
   * @returns The command register read back.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread/pwrite.
   */
  setBusMaster(enable = true): number {
    return this.#setCommandBits(PCI_COMMAND_MASTER, enable);
  }

  /**
   * Sets or clears memory-space decoding (PCI_COMMAND_MEMORY).
   *
   * @returns The command register read back.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread/pwrite.
   */
  setMemorySpace(enable = true): number {
    return this.#setCommandBits(PCI_COMMAND_MEMORY, enable);
  }

  /**
   * Sets or clears PCI_COMMAND_INTX_DISABLE.
   *
   * @returns The command register read back.
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread/pwrite.
   */
  setIntxDisabled(disable = true): number {
    return this.#setCommandBits(PCI_COMMAND_INTX_DISABLE, disable);
  }

  /**
   * Walks the standard capability list.
   *
   * @returns The capabilities in list order (empty when the device has none).
   * @throws {ClosedError} After the device closed.
   * @throws {SyscallError} From pread.
   */
  capabilities(): PciCapability[] {
    const out: PciCapability[] = [];
    if ((this.status & PCI_STATUS_CAP_LIST) === 0) return out;
    const size = this.#region.size;
    let ptr = this.read8(PCI_CAPABILITY_LIST) & 0xfc;
    const seen = new Set<number>();
    while (ptr !== 0 && ptr + 2 <= size && ptr < 256 && !seen.has(ptr)) {
      seen.add(ptr);
      out.push({ id: this.read8(ptr), offset: ptr });
      ptr = this.read8(ptr + 1) & 0xfc;
    }
    return out;
  }
}
