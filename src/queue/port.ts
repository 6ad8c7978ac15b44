/**
 * The queue's view of an opened device, whatever its class: its regions, the memory it
 * can use, how it signals completions, and how it is given back. The VFIO opener is here;
 * the UACCE one in `port_uacce.ts`. Tests substitute stand-in devices, so the queue logic
 * is tested without a kernel.
 *
 * @module
 */
import { VFIO_NOIOMMU_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "../abi/vfio.ts";
import type { EventFd } from "../sys/eventfd.ts";
import type { MappedMemory } from "../sys/mman.ts";
import { Container, type ContainerOptions } from "../vfio/container.ts";
import type { UserDriver } from "../drivers/driver.ts";
import type { DeviceMemory } from "./memory.ts";

/** Options of a DMA allocation for a queue. */
export interface QueueDmaOptions {
  /** The device's DMA address width; IOVAs stay below 2^addressBits. */
  readonly addressBits?: number;
}

/** Something a queue's wait sleeps on until the device has news: an eventfd, a device fd's readiness. */
export interface Readiness {
  /** Resolves when the device signalled; rejects with the signal's reason when aborted. */
  wait(options: { readonly signal?: AbortSignal }): Promise<unknown>;
  /**
   * Blocks the calling thread until the device signalled (poll(2)), or throws
   * `TimeoutError` after `timeout` ms; absent when the signal cannot be waited for so.
   */
  waitSync?(options: { readonly timeout?: number }): unknown;
}

/** An opened device as the queue uses it. */
export interface DevicePort {
  /** The number of regions. */
  readonly regionCount: number;
  /** Maps a whole region; the mapping is closed with the device at the latest. */
  mapRegion(index: number): MappedMemory;
  /**
   * Allocates memory the device can use (mapped for its DMA, or shared by address). Absent
   * when the device reaches only its own regions (UACCE without SVA): the queue then carves
   * buffers from the arena the driver names (`UserDriver.bufferArena`).
   */
  allocDma?(size: number, options?: QueueDmaOptions): DeviceMemory;
  /** True when the device shares the process's address space (UACCE's SVA). */
  readonly sva?: boolean;
  /**
   * The device's own completion signal (a UACCE fd's POLLIN), which the queue sleeps on
   * when the driver names no interrupt. Absent: the driver's `completionIrq`, or timers.
   */
  readiness?(): Readiness;
  /**
   * Throws when the device can no longer be used (a UACCE driver removed: ENXIO). The
   * queue calls it before every driver call that touches the device's memory.
   */
  check?(action: string): void;
  /**
   * Routes vector 0 of IRQ index `index` to a new eventfd and returns it; the eventfd is
   * detached and closed with the device. Absent, or throwing, when the device has no such
   * interrupt (the queue then polls).
   */
  interrupt?(index: number): EventFd;
  /** Stops the device where it can be stopped (VFIO_DEVICE_RESET when offered); a no-op otherwise. */
  reset(): void;
  /** Closes the device: its mappings, its interrupts, then its fd. Nothing of the device runs after. */
  closeDevice(): void;
  /** Unmaps the DMA still mapped, then closes the group and the container. */
  close(): void;
}

/** Where a device is and how to open it. */
export interface OpenOptions {
  /** The sysfs root. */
  readonly root: string;
  /** Where `vfio/` device nodes are. */
  readonly devRoot: string;
  /** The IOMMU type the device declares in `wdev/iommu`; the container is set to exactly it. */
  readonly iommuType?: number | undefined;
  /** Whether VFIO_NOIOMMU_IOMMU (no DMA isolation) may be used. */
  readonly allowNoIommu?: boolean | undefined;
}

/** Opens a mediated device by UUID; throws SyscallError EBUSY when another process holds it. */
export type DeviceOpener = (uuid: string, options: OpenOptions) => DevicePort;

/**
 * The container options for a device: the IOMMU type it declares and nothing else (the
 * spec's `wdev/iommu`), NOIOMMU only when allowed; without a declared type, the
 * container's own order (TYPE1v2, then TYPE1).
 */
export function containerOptionsFor(options: OpenOptions): ContainerOptions {
  const base = { sysfsRoot: options.root, devRoot: options.devRoot, allowNoIommu: options.allowNoIommu === true };
  return options.iommuType === undefined ? base : { ...base, iommuTypes: [options.iommuType] };
}

/**
 * Asks the kernel which IOMMU types it offers (VFIO_CHECK_EXTENSION on a new container),
 * for `Criteria.iommuTypes`; undefined when the container cannot be opened (no VFIO: the
 * open of each device then says so).
 */
export function probeIommuTypes(devRoot: string): number[] | undefined {
  let c: Container;
  try {
    c = Container.open({ devRoot });
  } catch {
    return undefined;
  }
  try {
    return [VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU].filter((t) => c.checkExtension(t));
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

/**
 * The opener through VFIO: one container per queue, so each queue tears down on its own.
 * The queue closes the device first (`closeDevice`), then its DMA buffers, then calls
 * `close`: `Container.close()` then finds the device closed and unmaps what is left before
 * it closes the group and itself.
 */
export const vfioOpener: DeviceOpener = (uuid, options) => {
  const container = Container.open(containerOptionsFor(options));
  try {
    const device = container.openDevice({ bus: "mdev", name: uuid });
    return {
      regionCount: device.info.numRegions,
      mapRegion: (index: number): MappedMemory => device.region(index).map(),
      allocDma: (size, o) => container.allocDma(size, o?.addressBits === undefined ? {} : { addressBits: o.addressBits }),
      interrupt: (index: number): EventFd => {
        const irq = device.irq(index);
        irq.enable();
        return irq.eventfds[0]!;
      },
      reset: (): void => {
        if (device.canReset) device.reset();
      },
      closeDevice: (): void => device.close(),
      close: (): void => container.close(),
    };
  } catch (e) {
    try {
      container.close();
    } catch {
      // The open failure is the one to report.
    }
    throw e;
  }
};

/**
 * The driver as the queue calls it on a port that can go away under it (`check`): every
 * call that touches the device's memory checks first, so a removed device throws a clear
 * error instead of faulting. A port without `check` gets the driver itself.
 */
export function guardedDriver<Req, Cpl>(driver: UserDriver<unknown, Req, Cpl>, port: DevicePort): UserDriver<unknown, Req, Cpl> {
  const check = port.check;
  if (check === undefined) return driver;
  // The driver as prototype: what is not overridden (its own fields, a class's methods,
  // getters) is the driver's.
  const g: UserDriver<unknown, Req, Cpl> = Object.create(driver);
  g.submit = (h, r) => (check("send requests"), driver.submit(h, r));
  g.poll = (h, max) => (check("poll for completions"), driver.poll(h, max));
  const { submitEncoded, pollEncoded, arm, quiesce } = driver;
  if (submitEncoded !== undefined) g.submitEncoded = (h, w, f, n) => (check("send requests"), submitEncoded.call(driver, h, w, f, n));
  if (pollEncoded !== undefined) g.pollEncoded = (h, w, at, max) => (check("poll for completions"), pollEncoded.call(driver, h, w, at, max));
  if (arm !== undefined) g.arm = (h) => (check("wait for completions"), arm.call(driver, h));
  if (quiesce !== undefined) {
    g.quiesce = (h) => {
      try {
        check("stop the device");
      } catch {
        return; // gone or closed: nothing left to stop
      }
      quiesce.call(driver, h);
    };
  }
  return g;
}

/**
 * What a queue's waits sleep on: the port's own readiness when it has one, else the
 * interrupt the driver names (routed to an eventfd), else nothing (timers). `interrupts:
 * false` in the tuning chooses timers.
 */
export function readinessFor(driver: UserDriver<unknown, unknown, unknown>, port: DevicePort, interrupts: boolean | undefined): Readiness | undefined {
  if (interrupts === false) return undefined;
  if (port.readiness !== undefined) return port.readiness();
  const irq = driver.completionIrq;
  if (irq === undefined || port.interrupt === undefined) return undefined;
  try {
    return port.interrupt(irq);
  } catch {
    // A device (or an older module) without the interrupt: the queue polls instead.
    return undefined;
  }
}
