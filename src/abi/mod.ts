/**
 * `warpdrive/abi`: the kernel ABI as data, with no I/O. The VFIO structs' layouts,
 * constants and ioctl numbers of `<linux/vfio.h>` (Linux 6.1 uapi), their encoders and
 * decoders (the capability-chain parser among them), the PCI configuration-space
 * constants, UACCE's ioctls and region types (`<misc/uacce/uacce.h>`), and the
 * `_IO`/`_IOR`/`_IOW`/`_IOWR` ioctl number macros. Kernel names are
 * kept verbatim, so a grep against the headers finds them.
 *
 * @example
 * ```ts
 * import { encodeDmaMap, VFIO_DMA_MAP_FLAG_READ, VFIO_IOMMU_MAP_DMA } from "warpdrive/abi";
 * const buf = encodeDmaMap({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4096n });
 * ```
 *
 * @module
 */
export * from "./vfio.ts";
export * from "./vfio_layout.ts";
export * from "./vfio_codec.ts";
export * from "./vfio_caps.ts";
export * from "./pci.ts";
export * from "./ioctl.ts";
export * from "./uacce.ts";
