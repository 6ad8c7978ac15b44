/**
 * The queue's view of an opened mediated device: its regions and DMA. The real one goes
 * through VFIO; tests substitute a stand-in device, so the queue logic is tested without
 * a kernel.
 *
 * @module
 */
import type { MappedMemory } from "../sys/mman.ts";
import { Container } from "../vfio/container.ts";
import type { DmaBuffer } from "../vfio/dma.ts";

/** Options of a DMA allocation for a queue. */
export interface QueueDmaOptions {
  /** The device's DMA address width; IOVAs stay below 2^addressBits. */
  readonly addressBits?: number;
}

/** An opened device as the queue uses it. */
export interface DevicePort {
  /** The number of regions. */
  readonly regionCount: number;
  /** Maps a whole region; the mapping is closed by `close()` at the latest. */
  mapRegion(index: number): MappedMemory;
  /** Allocates memory mapped for the device's DMA. */
  allocDma(size: number, options?: QueueDmaOptions): DmaBuffer;
  /** Closes mappings, DMA, device, group and container, in that order. */
  close(): void;
}

/** Opens a mediated device by UUID; throws SyscallError EBUSY when another process holds it. */
export type DeviceOpener = (uuid: string, options: { readonly root: string; readonly devRoot: string }) => DevicePort;

/**
 * The opener through VFIO: one container per queue, so each queue tears down on its own.
 * `Container.close()` already closes in the right order: devices (with their region
 * mappings), then DMA, then groups, then its own fd.
 */
export const vfioOpener: DeviceOpener = (uuid, options) => {
  const container = Container.open({ sysfsRoot: options.root, devRoot: options.devRoot });
  try {
    const device = container.openDevice({ bus: "mdev", name: uuid });
    return {
      regionCount: device.info.numRegions,
      mapRegion: (index: number): MappedMemory => device.region(index).map(),
      allocDma: (size, o) => container.allocDma(size, o?.addressBits === undefined ? {} : { addressBits: o.addressBits }),
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
