/**
 * Encoders and decoders of the fixed-size VFIO ioctl structs (group status, device info,
 * interrupt info and set, DMA map and unmap): pure functions over `Uint8Array`s laid out
 * as `vfio_layout.ts` says. Structs are laid out by hand (about 0.4 µs per ioctl) rather
 * than marshalled by koffi (2–3 µs).
 *
 * @module
 */

import { vfio_device_info, vfio_group_status, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap, vfio_irq_info, vfio_irq_set } from "./vfio_layout.ts";
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_GROUP_GET_STATUS,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
} from "./vfio.ts";
import { allocArgsz, getU32, getU64, setS32, setU32, setU64 } from "./_bytes.ts";

/** A `vfio_group_status` buffer with argsz set, for VFIO_GROUP_GET_STATUS. */
export function encodeGroupStatus(): Uint8Array {
  return allocArgsz(vfio_group_status.size);
}

/** The flags of a filled `vfio_group_status`. */
export function decodeGroupStatus(buf: Uint8Array): { readonly flags: number } {
  return { flags: getU32(buf, vfio_group_status.fields.flags.offset) };
}

/** What VFIO_DEVICE_GET_INFO tells about a device. */
export interface DeviceInfo {
  /** VFIO_DEVICE_FLAGS_* bits. */
  readonly flags: number;
  /** Number of region indexes (max index + 1). */
  readonly numRegions: number;
  /** Number of IRQ indexes (max index + 1). */
  readonly numIrqs: number;
  /** Offset of the first capability (0 when none). */
  readonly capOffset: number;
}

/**
 * A `vfio_device_info` buffer for VFIO_DEVICE_GET_INFO.
 *
 * @param argsz The buffer size to offer (larger to receive capabilities).
 */
export function encodeDeviceInfo(argsz: number = vfio_device_info.size): Uint8Array {
  return allocArgsz(Math.max(argsz, vfio_device_info.size));
}

/** Decodes a filled `vfio_device_info`. */
export function decodeDeviceInfo(buf: Uint8Array): DeviceInfo & { readonly argsz: number } {
  const f = vfio_device_info.fields;
  return {
    argsz: getU32(buf, f.argsz.offset),
    flags: getU32(buf, f.flags.offset),
    numRegions: getU32(buf, f.num_regions.offset),
    numIrqs: getU32(buf, f.num_irqs.offset),
    capOffset: getU32(buf, f.cap_offset.offset),
  };
}

/** What VFIO_DEVICE_GET_IRQ_INFO tells about one IRQ index. */
export interface IrqInfo {
  /** IRQ index (VFIO_PCI_INTX_IRQ_INDEX, …). */
  readonly index: number;
  /** VFIO_IRQ_INFO_* bits. */
  readonly flags: number;
  /** Number of vectors of this index (0: not supported by the device). */
  readonly count: number;
  /** VFIO_IRQ_INFO_EVENTFD. */
  readonly eventfd: boolean;
  /** VFIO_IRQ_INFO_MASKABLE. */
  readonly maskable: boolean;
  /** VFIO_IRQ_INFO_AUTOMASKED: unmask after each interrupt to receive the next. */
  readonly automasked: boolean;
  /** VFIO_IRQ_INFO_NORESIZE. */
  readonly noresize: boolean;
}

/** A `vfio_irq_info` buffer for VFIO_DEVICE_GET_IRQ_INFO. */
export function encodeIrqInfo(index: number): Uint8Array {
  const buf = allocArgsz(vfio_irq_info.size);
  setU32(buf, vfio_irq_info.fields.index.offset, index);
  return buf;
}

/** Decodes a filled `vfio_irq_info`. */
export function decodeIrqInfo(buf: Uint8Array): IrqInfo {
  const f = vfio_irq_info.fields;
  const flags = getU32(buf, f.flags.offset);
  return Object.freeze({
    index: getU32(buf, f.index.offset),
    flags,
    count: getU32(buf, f.count.offset),
    eventfd: (flags & VFIO_IRQ_INFO_EVENTFD) !== 0,
    maskable: (flags & VFIO_IRQ_INFO_MASKABLE) !== 0,
    automasked: (flags & VFIO_IRQ_INFO_AUTOMASKED) !== 0,
    noresize: (flags & VFIO_IRQ_INFO_NORESIZE) !== 0,
  });
}

/** The fields of a VFIO_DEVICE_SET_IRQS request. */
export interface IrqSetRequest {
  /** One VFIO_IRQ_SET_DATA_* flag or'ed with one VFIO_IRQ_SET_ACTION_* flag. */
  readonly flags: number;
  /** IRQ index. */
  readonly index: number;
  /** First vector. */
  readonly start: number;
  /** Number of vectors (0 with DATA_NONE|ACTION_TRIGGER disables the index). */
  readonly count: number;
  /** For VFIO_IRQ_SET_DATA_EVENTFD: one fd per vector (-1 to detach that vector). */
  readonly eventfds?: readonly number[];
  /** For VFIO_IRQ_SET_DATA_BOOL: one boolean per vector. */
  readonly bools?: readonly boolean[];
}

/**
 * Builds a `vfio_irq_set` with its data tail (`__s32` eventfds or `__u8` booleans).
 *
 * @throws {RangeError} When the data does not match `count` or the data-type flag.
 * @example
 * ```ts
 * import { encodeIrqSet, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX } from "warpdrive/abi";
 * import { EventFd } from "warpdrive/sys";
 *
 * using efd = EventFd.create();
 * encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
 *                index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, eventfds: [efd.fd] });
 * ```
 */
export function encodeIrqSet(req: IrqSetRequest): Uint8Array {
  const dataType = req.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
  let tail = 0;
  if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
    if (req.eventfds === undefined || req.eventfds.length !== req.count) {
      throw new RangeError(`Cannot build vfio_irq_set: DATA_EVENTFD needs "${req.count}" eventfds, got "${req.eventfds?.length ?? 0}"`);
    }
    tail = 4 * req.count;
  } else if (dataType === VFIO_IRQ_SET_DATA_BOOL) {
    if (req.bools === undefined || req.bools.length !== req.count) {
      throw new RangeError(`Cannot build vfio_irq_set: DATA_BOOL needs "${req.count}" booleans, got "${req.bools?.length ?? 0}"`);
    }
    tail = req.count;
  } else if (dataType !== VFIO_IRQ_SET_DATA_NONE) {
    throw new RangeError(`Cannot build vfio_irq_set: flags "0x${req.flags.toString(16)}" need exactly one data type`);
  }
  const f = vfio_irq_set.fields;
  const buf = allocArgsz(vfio_irq_set.size + tail);
  setU32(buf, f.flags.offset, req.flags);
  setU32(buf, f.index.offset, req.index);
  setU32(buf, f.start.offset, req.start);
  setU32(buf, f.count.offset, req.count);
  if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
    req.eventfds!.forEach((fd, i) => setS32(buf, f.data.offset + 4 * i, fd));
  } else if (dataType === VFIO_IRQ_SET_DATA_BOOL) {
    req.bools!.forEach((b, i) => (buf[f.data.offset + i] = b ? 1 : 0));
  }
  return buf;
}

/** The fields of a VFIO_IOMMU_MAP_DMA request. */
export interface DmaMapRequest {
  /** VFIO_DMA_MAP_FLAG_* bits. */
  readonly flags: number;
  /** Process virtual address of the memory. */
  readonly vaddr: bigint;
  /** IO virtual address the device will use. */
  readonly iova: bigint;
  /** Size in bytes (a multiple of the IOMMU page size). */
  readonly size: bigint;
}

/** Builds a `vfio_iommu_type1_dma_map`. */
export function encodeDmaMap(req: DmaMapRequest): Uint8Array {
  const f = vfio_iommu_type1_dma_map.fields;
  const buf = allocArgsz(vfio_iommu_type1_dma_map.size);
  setU32(buf, f.flags.offset, req.flags);
  setU64(buf, f.vaddr.offset, req.vaddr);
  setU64(buf, f.iova.offset, req.iova);
  setU64(buf, f.size.offset, req.size);
  return buf;
}

/** Builds a `vfio_iommu_type1_dma_unmap` (without a dirty bitmap). */
export function encodeDmaUnmap(req: { readonly flags: number; readonly iova: bigint; readonly size: bigint }): Uint8Array {
  const f = vfio_iommu_type1_dma_unmap.fields;
  const buf = allocArgsz(vfio_iommu_type1_dma_unmap.size);
  setU32(buf, f.flags.offset, req.flags);
  setU64(buf, f.iova.offset, req.iova);
  setU64(buf, f.size.offset, req.size);
  return buf;
}

/** The number of bytes the kernel reports as unmapped in a `vfio_iommu_type1_dma_unmap`. */
export function decodeDmaUnmapSize(buf: Uint8Array): bigint {
  return getU64(buf, vfio_iommu_type1_dma_unmap.fields.size.offset);
}
