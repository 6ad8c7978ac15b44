/**
 * The VFIO info ioctls, each read once and decoded into plain data: a device's regions
 * (VFIO_DEVICE_GET_REGION_INFO) and interrupts (VFIO_DEVICE_GET_IRQ_INFO), and a
 * container's IOMMU (VFIO_IOMMU_GET_INFO). The two with a capability chain renegotiate
 * `argsz` through one helper.
 *
 * @module
 */

import { VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_IOMMU_GET_INFO } from "../abi/vfio.ts";
import { vfio_iommu_type1_info, vfio_region_info } from "../abi/vfio_layout.ts";
import { decodeIrqInfo, encodeIrqInfo, type IrqInfo } from "../abi/vfio_codec.ts";
import {
  decodeIommuInfo,
  decodeRegionInfo,
  encodeIommuInfo,
  encodeRegionInfo,
  type IommuInfo,
  iommuInfoArgsz,
  regionInfoArgsz,
  type RegionInfo,
} from "../abi/vfio_caps.ts";
import type { IoctlTarget } from "../sys/fd.ts";
import { readInfo, vfioIoctl } from "./_ioctl.ts";

/**
 * VFIO_DEVICE_GET_REGION_INFO with `argsz` renegotiation: asks with the bare struct, and
 * when the kernel answers with a larger `argsz` (the capability chain did not fit), asks
 * again with a buffer of that size, then decodes the chain.
 *
 * @param target The device fd (or a fake answering the ioctl).
 * @param index Region index.
 * @returns The region description, capabilities decoded.
 * @throws {SyscallError} EINVAL for an index the device does not have, …
 * @throws {RangeError} When the kernel asks for an absurd size or the chain is malformed.
 * @example
 * ```ts
 * import { Fd } from "warpdrive/sys";
 * import { readRegionInfo, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";
 *
 * declare const deviceFd: Fd; // a VFIO device
 * const bar0 = readRegionInfo(deviceFd, VFIO_PCI_BAR0_REGION_INDEX);
 * ```
 */
export function readRegionInfo(target: IoctlTarget, index: number): RegionInfo {
  return readInfo(target, {
    request: VFIO_DEVICE_GET_REGION_INFO,
    minSize: vfio_region_info.size,
    encode: (argsz) => encodeRegionInfo(index, argsz),
    argszOf: regionInfoArgsz,
    decode: decodeRegionInfo,
    what: `info of region ${index}`,
  });
}

/**
 * VFIO_DEVICE_GET_IRQ_INFO.
 *
 * @param target The device fd (or a fake).
 * @param index IRQ index.
 * @throws {SyscallError} EINVAL for an index the device does not have.
 * @example
 * ```ts
 * import { Fd } from "warpdrive/sys";
 * import { readIrqInfo, VFIO_PCI_MSI_IRQ_INDEX } from "warpdrive/vfio";
 *
 * declare const deviceFd: Fd; // a VFIO device
 * readIrqInfo(deviceFd, VFIO_PCI_MSI_IRQ_INDEX).count; // 1 on edu
 * ```
 */
export function readIrqInfo(target: IoctlTarget, index: number): IrqInfo {
  const buf = encodeIrqInfo(index);
  vfioIoctl(target, VFIO_DEVICE_GET_IRQ_INFO, buf);
  return decodeIrqInfo(buf);
}

/**
 * VFIO_IOMMU_GET_INFO with `argsz` renegotiation (the capability chain follows the struct).
 *
 * @param target The container fd (or a fake).
 * @throws {SyscallError} From the ioctl (EINVAL before an IOMMU type is set).
 * @throws {RangeError} On a malformed answer.
 * @example
 * ```ts
 * import { Fd } from "warpdrive/sys";
 * import { readIommuInfo } from "warpdrive/vfio";
 *
 * declare const containerFd: Fd; // /dev/vfio/vfio, its IOMMU set
 * readIommuInfo(containerFd).iovaRanges;
 * ```
 */
export function readIommuInfo(target: IoctlTarget): IommuInfo {
  return readInfo(target, {
    request: VFIO_IOMMU_GET_INFO,
    minSize: vfio_iommu_type1_info.size,
    encode: encodeIommuInfo,
    argszOf: iommuInfoArgsz,
    decode: decodeIommuInfo,
    what: "IOMMU info",
  });
}
