/**
 * VFIO from TypeScript: containers, groups, devices, regions, interrupts and DMA, over the
 * kernel's `<linux/vfio.h>` ABI (layouts from Linux 6.1 uapi, checked against the header).
 *
 * One class per kernel object:
 * - `Container` (`/dev/vfio/vfio`): opens devices by PCI address, mdev UUID, sysfs path or
 *   `{ bus, name }`; sets the IOMMU (TYPE1v2, TYPE1; no-IOMMU only when allowed); maps DMA
 *   (`allocDma`, `mapDma`, through its `Iommu`) with an IOVA allocator honouring the
 *   IOMMU's ranges and a device's address width; the kernel enforces RLIMIT_MEMLOCK where
 *   it pins, and its ENOMEM comes back explained.
 * - `Group` (`/dev/vfio/<n>`): viability with advice, EBUSY naming the held group.
 * - `Device`: info, `regionInfo`/`region`, `irqInfo`/`irq`, `reset`, `pciConfig`.
 * - `Region`: pread/pwrite accessors, `map()`/`mapAreas()` to a `MappedMemory`.
 * - `Irq`: eventfd-backed vectors, `await irq.wait({ timeout, signal })`.
 * - `DmaBuffer`: memory the device reaches at `iova`.
 *
 * Every object has an idempotent `close()` and `[Symbol.dispose]`; parents close children
 * first (mappings → interrupts → eventfds → device → DMA → group → container); after close,
 * calls throw `ClosedError`, and views of unmapped memory are detached.
 *
 * @example
 * ```ts
 * import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
 * using container = Container.open();
 * const dev = container.openDevice("0000:00:03.0");
 * const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
 * regs.read32(0); // edu: 0x010000ed
 * ```
 *
 * @module
 */

export { Container, type ContainerOptions } from "./container.ts";
export { type DmaOptions, Iommu, type IommuChoice } from "./iommu.ts";
export { readIommuInfo, readIrqInfo, readRegionInfo } from "./info.ts";
export { Group, type GroupOpenOptions, type GroupStatus, type GroupLink } from "./group.ts";
export { Device, type DeviceAdoptOptions } from "./device.ts";
export { Region, type RegionMapOptions } from "./region.ts";
export { Irq, type IrqEnableOptions, type IrqWaitOptions } from "./irq.ts";
export { DmaBuffer, IovaAllocator, type DmaOwner, type IovaAllocateOptions } from "./dma.ts";
export { PciConfig, type PciCapability } from "./pci.ts";
export { VfioError } from "./errors.ts";
export { devicePath, locateDevice, type DeviceRef, type LocatedDevice } from "./locate.ts";
export * from "../abi/vfio.ts";
export * from "../abi/pci.ts";
