/**
 * The VFIO user-space ABI: the structs, constants and ioctl numbers of `<linux/vfio.h>`
 * that this library uses, with the kernel's names kept verbatim so a grep against the
 * header finds them.
 *
 * Taken from Debian 12's `linux-libc-dev` 6.1 (`/usr/include/linux/vfio.h`, the uapi
 * header of Linux 6.1). `tests/unit/abi_layout.test.ts` compiles a C probe against the
 * installed header and compares every size, offset, constant and ioctl number below.
 *
 * Structs are laid out by hand in `Uint8Array`s (about 0.4 µs per ioctl) rather than
 * marshalled by koffi (2–3 µs); the encoders and decoders here are pure functions.
 *
 * @module
 */

import { _IO } from "./ioctl.ts";
import { getU16, getU32, getU64, setS32, setU32, setU64, u64ToNumber } from "./_bytes.ts";

/** Where the layouts in this file were taken from. */
export const VFIO_HEADER_SOURCE: string = "linux-libc-dev 6.1 (Debian 12): include/uapi/linux/vfio.h";

// ---------------------------------------------------------------------------------------
// Layout descriptions
// ---------------------------------------------------------------------------------------

/** Offset and size of one struct member, in bytes (size 0 for a flexible array). */
export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
}

/** A struct as the C compiler lays it out: `sizeof` and every member's offset and size. */
export interface StructLayout<F extends string = string> {
  /** The kernel's struct name (`"vfio_region_info"`). */
  readonly name: string;
  /** `sizeof(struct name)`, padding included. */
  readonly size: number;
  /** Each member by its kernel name. */
  readonly fields: { readonly [K in F]: FieldLayout };
}

function layout<F extends string>(name: string, size: number, fields: Record<F, readonly [number, number]>): StructLayout<F> {
  const out = {} as { [K in F]: FieldLayout };
  for (const key of Object.keys(fields) as F[]) {
    const [offset, width] = fields[key];
    out[key] = Object.freeze({ offset, size: width });
  }
  return Object.freeze({ name, size, fields: Object.freeze(out) });
}

/** `struct vfio_info_cap_header`: the header of every capability in a chain. */
export const vfio_info_cap_header: StructLayout<"id" | "version" | "next"> = layout("vfio_info_cap_header", 8, {
  id: [0, 2],
  version: [2, 2],
  next: [4, 4],
});

/** `struct vfio_group_status` (VFIO_GROUP_GET_STATUS). */
export const vfio_group_status: StructLayout<"argsz" | "flags"> = layout("vfio_group_status", 8, {
  argsz: [0, 4],
  flags: [4, 4],
});

/** `struct vfio_device_info` (VFIO_DEVICE_GET_INFO). */
export const vfio_device_info: StructLayout<"argsz" | "flags" | "num_regions" | "num_irqs" | "cap_offset"> = layout(
  "vfio_device_info",
  20,
  { argsz: [0, 4], flags: [4, 4], num_regions: [8, 4], num_irqs: [12, 4], cap_offset: [16, 4] },
);

/** `struct vfio_region_info` (VFIO_DEVICE_GET_REGION_INFO). */
export const vfio_region_info: StructLayout<"argsz" | "flags" | "index" | "cap_offset" | "size" | "offset"> = layout(
  "vfio_region_info",
  32,
  { argsz: [0, 4], flags: [4, 4], index: [8, 4], cap_offset: [12, 4], size: [16, 8], offset: [24, 8] },
);

/** `struct vfio_region_sparse_mmap_area`: one mmap-able window of a region. */
export const vfio_region_sparse_mmap_area: StructLayout<"offset" | "size"> = layout("vfio_region_sparse_mmap_area", 16, {
  offset: [0, 8],
  size: [8, 8],
});

/** `struct vfio_region_info_cap_sparse_mmap` (capability VFIO_REGION_INFO_CAP_SPARSE_MMAP). */
export const vfio_region_info_cap_sparse_mmap: StructLayout<"header" | "nr_areas" | "reserved" | "areas"> = layout(
  "vfio_region_info_cap_sparse_mmap",
  16,
  { header: [0, 8], nr_areas: [8, 4], reserved: [12, 4], areas: [16, 0] },
);

/** `struct vfio_region_info_cap_type` (capability VFIO_REGION_INFO_CAP_TYPE). */
export const vfio_region_info_cap_type: StructLayout<"header" | "type" | "subtype"> = layout("vfio_region_info_cap_type", 16, {
  header: [0, 8],
  type: [8, 4],
  subtype: [12, 4],
});

/** `struct vfio_irq_info` (VFIO_DEVICE_GET_IRQ_INFO). */
export const vfio_irq_info: StructLayout<"argsz" | "flags" | "index" | "count"> = layout("vfio_irq_info", 16, {
  argsz: [0, 4],
  flags: [4, 4],
  index: [8, 4],
  count: [12, 4],
});

/** `struct vfio_irq_set` (VFIO_DEVICE_SET_IRQS); `data` is the variable tail. */
export const vfio_irq_set: StructLayout<"argsz" | "flags" | "index" | "start" | "count" | "data"> = layout("vfio_irq_set", 20, {
  argsz: [0, 4],
  flags: [4, 4],
  index: [8, 4],
  start: [12, 4],
  count: [16, 4],
  data: [20, 0],
});

/** `struct vfio_iommu_type1_info` (VFIO_IOMMU_GET_INFO); 4 bytes of tail padding. */
export const vfio_iommu_type1_info: StructLayout<"argsz" | "flags" | "iova_pgsizes" | "cap_offset"> = layout(
  "vfio_iommu_type1_info",
  24,
  { argsz: [0, 4], flags: [4, 4], iova_pgsizes: [8, 8], cap_offset: [16, 4] },
);

/** `struct vfio_iova_range`: an inclusive range of usable IOVAs. */
export const vfio_iova_range: StructLayout<"start" | "end"> = layout("vfio_iova_range", 16, {
  start: [0, 8],
  end: [8, 8],
});

/** `struct vfio_iommu_type1_info_cap_iova_range` (capability VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE). */
export const vfio_iommu_type1_info_cap_iova_range: StructLayout<"header" | "nr_iovas" | "reserved" | "iova_ranges"> = layout(
  "vfio_iommu_type1_info_cap_iova_range",
  16,
  { header: [0, 8], nr_iovas: [8, 4], reserved: [12, 4], iova_ranges: [16, 0] },
);

/** `struct vfio_iommu_type1_info_dma_avail` (capability VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL). */
export const vfio_iommu_type1_info_dma_avail: StructLayout<"header" | "avail"> = layout("vfio_iommu_type1_info_dma_avail", 12, {
  header: [0, 8],
  avail: [8, 4],
});

/** `struct vfio_iommu_type1_dma_map` (VFIO_IOMMU_MAP_DMA). */
export const vfio_iommu_type1_dma_map: StructLayout<"argsz" | "flags" | "vaddr" | "iova" | "size"> = layout(
  "vfio_iommu_type1_dma_map",
  32,
  { argsz: [0, 4], flags: [4, 4], vaddr: [8, 8], iova: [16, 8], size: [24, 8] },
);

/** `struct vfio_iommu_type1_dma_unmap` (VFIO_IOMMU_UNMAP_DMA); `data` is the variable tail. */
export const vfio_iommu_type1_dma_unmap: StructLayout<"argsz" | "flags" | "iova" | "size" | "data"> = layout(
  "vfio_iommu_type1_dma_unmap",
  24,
  { argsz: [0, 4], flags: [4, 4], iova: [8, 8], size: [16, 8], data: [24, 0] },
);

/** Every struct layout above, for the layout test against the C header. */
export const VFIO_STRUCTS: readonly StructLayout[] = Object.freeze([
  vfio_info_cap_header,
  vfio_group_status,
  vfio_device_info,
  vfio_region_info,
  vfio_region_sparse_mmap_area,
  vfio_region_info_cap_sparse_mmap,
  vfio_region_info_cap_type,
  vfio_irq_info,
  vfio_irq_set,
  vfio_iommu_type1_info,
  vfio_iova_range,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_dma_avail,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
]);

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/** The only VFIO API version there is. */
export const VFIO_API_VERSION = 0;

/** IOMMU type (and extension) numbers for VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU. */
export const VFIO_TYPE1_IOMMU = 1;
/** sPAPR TCE IOMMU (powerpc). */
export const VFIO_SPAPR_TCE_IOMMU = 2;
/** Type1 with the v2 semantics (unmap granularity rules); preferred. */
export const VFIO_TYPE1v2_IOMMU = 3;
/** Extension: the IOMMU enforces DMA cache coherence. */
export const VFIO_DMA_CC_IOMMU = 4;
/** Extension: EEH (powerpc). */
export const VFIO_EEH = 5;
/** Type1 nesting IOMMU. */
export const VFIO_TYPE1_NESTING_IOMMU = 6;
/** sPAPR TCE v2 IOMMU (powerpc). */
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
/** No IOMMU: unsafe, only with the vfio module's `enable_unsafe_noiommu_mode`. */
export const VFIO_NOIOMMU_IOMMU = 8;
/** Extension: VFIO_DMA_UNMAP_FLAG_ALL. */
export const VFIO_UNMAP_ALL = 9;
/** Extension: VFIO_DMA_MAP_FLAG_VADDR / VFIO_DMA_UNMAP_FLAG_VADDR. */
export const VFIO_UPDATE_VADDR = 10;

/** The ioctl "magic" of VFIO (`';'`). */
export const VFIO_TYPE = ";";
/** The first VFIO ioctl number. */
export const VFIO_BASE = 100;

/** VFIO_GROUP_GET_STATUS flag: every device of the group is bound to a VFIO or no driver. */
export const VFIO_GROUP_FLAGS_VIABLE: number = 1 << 0;
/** VFIO_GROUP_GET_STATUS flag: the group is already attached to a container. */
export const VFIO_GROUP_FLAGS_CONTAINER_SET: number = 1 << 1;

/** Device flag: VFIO_DEVICE_RESET is supported. */
export const VFIO_DEVICE_FLAGS_RESET: number = 1 << 0;
/** Device flag: a vfio-pci device. */
export const VFIO_DEVICE_FLAGS_PCI: number = 1 << 1;
/** Device flag: a vfio-platform device. */
export const VFIO_DEVICE_FLAGS_PLATFORM: number = 1 << 2;
/** Device flag: a vfio-amba device. */
export const VFIO_DEVICE_FLAGS_AMBA: number = 1 << 3;
/** Device flag: a vfio-ccw device. */
export const VFIO_DEVICE_FLAGS_CCW: number = 1 << 4;
/** Device flag: a vfio-ap device. */
export const VFIO_DEVICE_FLAGS_AP: number = 1 << 5;
/** Device flag: a vfio-fsl-mc device. */
export const VFIO_DEVICE_FLAGS_FSL_MC: number = 1 << 6;
/** Device flag: the info has a capability chain. */
export const VFIO_DEVICE_FLAGS_CAPS: number = 1 << 7;

/** `device_api` string of vfio-pci devices (and PCI-like mediated devices). */
export const VFIO_DEVICE_API_PCI_STRING = "vfio-pci";

/** Region flag: read() is supported. */
export const VFIO_REGION_INFO_FLAG_READ: number = 1 << 0;
/** Region flag: write() is supported. */
export const VFIO_REGION_INFO_FLAG_WRITE: number = 1 << 1;
/** Region flag: mmap() is supported (maybe only for sparse areas). */
export const VFIO_REGION_INFO_FLAG_MMAP: number = 1 << 2;
/** Region flag: the info has a capability chain. */
export const VFIO_REGION_INFO_FLAG_CAPS: number = 1 << 3;

/** Region capability: only the listed areas can be mmapped. */
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
/** Region capability: type and subtype of a device-specific region. */
export const VFIO_REGION_INFO_CAP_TYPE = 2;
/** Region capability: the MSI-X table may be mmapped. */
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

/** Region type bit: a PCI vendor-specific type (vendor id in the low 16 bits). */
export const VFIO_REGION_TYPE_PCI_VENDOR_TYPE: number = 0x80000000;
/** Mask of the vendor id in a vendor-specific region type. */
export const VFIO_REGION_TYPE_PCI_VENDOR_MASK = 0xffff;

/** IRQ flag: the IRQ can be signalled through an eventfd. */
export const VFIO_IRQ_INFO_EVENTFD: number = 1 << 0;
/** IRQ flag: the IRQ can be masked. */
export const VFIO_IRQ_INFO_MASKABLE: number = 1 << 1;
/** IRQ flag: the kernel masks the IRQ after each trigger (INTx); unmask to get the next. */
export const VFIO_IRQ_INFO_AUTOMASKED: number = 1 << 2;
/** IRQ flag: the number of vectors cannot change once enabled. */
export const VFIO_IRQ_INFO_NORESIZE: number = 1 << 3;

/** SET_IRQS data: none. */
export const VFIO_IRQ_SET_DATA_NONE: number = 1 << 0;
/** SET_IRQS data: one `__u8` boolean per vector. */
export const VFIO_IRQ_SET_DATA_BOOL: number = 1 << 1;
/** SET_IRQS data: one `__s32` eventfd per vector (-1 to tear down). */
export const VFIO_IRQ_SET_DATA_EVENTFD: number = 1 << 2;
/** SET_IRQS action: mask. */
export const VFIO_IRQ_SET_ACTION_MASK: number = 1 << 3;
/** SET_IRQS action: unmask. */
export const VFIO_IRQ_SET_ACTION_UNMASK: number = 1 << 4;
/** SET_IRQS action: trigger (or, with eventfds, route triggers to them). */
export const VFIO_IRQ_SET_ACTION_TRIGGER: number = 1 << 5;
/** Mask of the data-type flags of SET_IRQS. */
export const VFIO_IRQ_SET_DATA_TYPE_MASK: number = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
/** Mask of the action flags of SET_IRQS. */
export const VFIO_IRQ_SET_ACTION_TYPE_MASK: number =
  VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

/** vfio-pci region index of BAR0 (BAR1–5 follow). */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
/** vfio-pci region index of BAR1. */
export const VFIO_PCI_BAR1_REGION_INDEX = 1;
/** vfio-pci region index of BAR2. */
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
/** vfio-pci region index of BAR3. */
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
/** vfio-pci region index of BAR4. */
export const VFIO_PCI_BAR4_REGION_INDEX = 4;
/** vfio-pci region index of BAR5. */
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
/** vfio-pci region index of the expansion ROM. */
export const VFIO_PCI_ROM_REGION_INDEX = 6;
/** vfio-pci region index of PCI config space. */
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
/** vfio-pci region index of the legacy VGA ranges. */
export const VFIO_PCI_VGA_REGION_INDEX = 8;
/** Number of fixed vfio-pci regions; device-specific ones follow. */
export const VFIO_PCI_NUM_REGIONS = 9;

/** vfio-pci IRQ index of legacy INTx. */
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
/** vfio-pci IRQ index of MSI. */
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
/** vfio-pci IRQ index of MSI-X. */
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
/** vfio-pci IRQ index of the error (AER) notification. */
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
/** vfio-pci IRQ index of the device request notification. */
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
/** Number of vfio-pci IRQ indexes. */
export const VFIO_PCI_NUM_IRQS = 5;

/** IOMMU info flag: `iova_pgsizes` is valid. */
export const VFIO_IOMMU_INFO_PGSIZES: number = 1 << 0;
/** IOMMU info flag: the info has a capability chain. */
export const VFIO_IOMMU_INFO_CAPS: number = 1 << 1;
/** IOMMU capability: the usable IOVA ranges. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
/** IOMMU capability: dirty-page tracking for migration. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
/** IOMMU capability: how many more DMA mappings the container accepts. */
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

/** MAP_DMA flag: the device may read the memory. */
export const VFIO_DMA_MAP_FLAG_READ: number = 1 << 0;
/** MAP_DMA flag: the device may write the memory. */
export const VFIO_DMA_MAP_FLAG_WRITE: number = 1 << 1;
/** MAP_DMA flag: update the vaddr of an existing mapping. */
export const VFIO_DMA_MAP_FLAG_VADDR: number = 1 << 2;
/** UNMAP_DMA flag: return the dirty bitmap. */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP: number = 1 << 0;
/** UNMAP_DMA flag: unmap everything (iova and size 0). */
export const VFIO_DMA_UNMAP_FLAG_ALL: number = 1 << 1;
/** UNMAP_DMA flag: invalidate the vaddr only. */
export const VFIO_DMA_UNMAP_FLAG_VADDR: number = 1 << 2;

// ---------------------------------------------------------------------------------------
// ioctl numbers: every VFIO ioctl is _IO(VFIO_TYPE, VFIO_BASE + n)
// ---------------------------------------------------------------------------------------

/** `VFIO_GET_API_VERSION`, on the container; returns VFIO_API_VERSION. */
export const VFIO_GET_API_VERSION: number = _IO(VFIO_TYPE, VFIO_BASE + 0);
/** `VFIO_CHECK_EXTENSION`, on the container, int argument; returns > 0 when supported. */
export const VFIO_CHECK_EXTENSION: number = _IO(VFIO_TYPE, VFIO_BASE + 1);
/** `VFIO_SET_IOMMU`, on the container, int argument (an IOMMU type). */
export const VFIO_SET_IOMMU: number = _IO(VFIO_TYPE, VFIO_BASE + 2);
/** `VFIO_GROUP_GET_STATUS`, on a group, `struct vfio_group_status *`. */
export const VFIO_GROUP_GET_STATUS: number = _IO(VFIO_TYPE, VFIO_BASE + 3);
/** `VFIO_GROUP_SET_CONTAINER`, on a group, `int *` (the container fd). */
export const VFIO_GROUP_SET_CONTAINER: number = _IO(VFIO_TYPE, VFIO_BASE + 4);
/** `VFIO_GROUP_UNSET_CONTAINER`, on a group. */
export const VFIO_GROUP_UNSET_CONTAINER: number = _IO(VFIO_TYPE, VFIO_BASE + 5);
/** `VFIO_GROUP_GET_DEVICE_FD`, on a group, `char *` (device name); returns a device fd. */
export const VFIO_GROUP_GET_DEVICE_FD: number = _IO(VFIO_TYPE, VFIO_BASE + 6);
/** `VFIO_DEVICE_GET_INFO`, on a device, `struct vfio_device_info *`. */
export const VFIO_DEVICE_GET_INFO: number = _IO(VFIO_TYPE, VFIO_BASE + 7);
/** `VFIO_DEVICE_GET_REGION_INFO`, on a device, `struct vfio_region_info *`. */
export const VFIO_DEVICE_GET_REGION_INFO: number = _IO(VFIO_TYPE, VFIO_BASE + 8);
/** `VFIO_DEVICE_GET_IRQ_INFO`, on a device, `struct vfio_irq_info *`. */
export const VFIO_DEVICE_GET_IRQ_INFO: number = _IO(VFIO_TYPE, VFIO_BASE + 9);
/** `VFIO_DEVICE_SET_IRQS`, on a device, `struct vfio_irq_set *`. */
export const VFIO_DEVICE_SET_IRQS: number = _IO(VFIO_TYPE, VFIO_BASE + 10);
/** `VFIO_DEVICE_RESET`, on a device. */
export const VFIO_DEVICE_RESET: number = _IO(VFIO_TYPE, VFIO_BASE + 11);
/** `VFIO_IOMMU_GET_INFO`, on the container, `struct vfio_iommu_type1_info *`. */
export const VFIO_IOMMU_GET_INFO: number = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** `VFIO_IOMMU_MAP_DMA`, on the container, `struct vfio_iommu_type1_dma_map *`. */
export const VFIO_IOMMU_MAP_DMA: number = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** `VFIO_IOMMU_UNMAP_DMA`, on the container, `struct vfio_iommu_type1_dma_unmap *`. */
export const VFIO_IOMMU_UNMAP_DMA: number = _IO(VFIO_TYPE, VFIO_BASE + 14);

/** The ioctl numbers above by name, for the pinned-literal and C-probe tests. */
export const VFIO_IOCTLS: Readonly<Record<string, number>> = Object.freeze({
  VFIO_GET_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_SET_IOMMU,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
});

/** The integer constants above by name, for the C-probe test. */
export const VFIO_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  VFIO_API_VERSION,
  VFIO_TYPE1_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_DMA_CC_IOMMU,
  VFIO_EEH,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  VFIO_NOIOMMU_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  VFIO_BASE,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_PLATFORM,
  VFIO_DEVICE_FLAGS_AMBA,
  VFIO_DEVICE_FLAGS_CCW,
  VFIO_DEVICE_FLAGS_AP,
  VFIO_DEVICE_FLAGS_FSL_MC,
  VFIO_DEVICE_FLAGS_CAPS,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_TYPE_PCI_VENDOR_TYPE,
  VFIO_REGION_TYPE_PCI_VENDOR_MASK,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR1_REGION_INDEX,
  VFIO_PCI_BAR2_REGION_INDEX,
  VFIO_PCI_BAR3_REGION_INDEX,
  VFIO_PCI_BAR4_REGION_INDEX,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_VADDR,
});

// ---------------------------------------------------------------------------------------
// Capability chains
// ---------------------------------------------------------------------------------------

/** One capability found in an info struct's chain. */
export interface CapabilityEntry {
  /** `vfio_info_cap_header.id`. */
  readonly id: number;
  /** `vfio_info_cap_header.version`. */
  readonly version: number;
  /** Offset of the header from the start of the info struct. */
  readonly offset: number;
  /** Bytes from this header to the next one (or to the end of the buffer for the last). */
  readonly length: number;
}

/** The most capabilities a chain may hold before it is taken for a loop. */
const MAX_CAPABILITIES = 64;

/**
 * Walks a capability chain (`vfio_info_cap_header.next` offsets from the start of the info
 * struct, 0 ending the chain).
 *
 * @param buf The whole info buffer as the kernel filled it.
 * @param first The info struct's `cap_offset` (0 means no capabilities).
 * @param minOffset The size of the fixed struct: a capability cannot start before it.
 * @returns The capabilities in chain order.
 * @throws {RangeError} When an offset points outside the buffer, inside the fixed struct,
 *   backwards (a loop), or is misaligned.
 * @example
 * ```ts
 * const caps = parseCapabilityChain(buf, info.capOffset, vfio_region_info.size);
 * ```
 */
export function parseCapabilityChain(buf: Uint8Array, first: number, minOffset: number): CapabilityEntry[] {
  const out: CapabilityEntry[] = [];
  let offset = first;
  while (offset !== 0) {
    if (out.length >= MAX_CAPABILITIES) {
      throw new RangeError(`Cannot parse VFIO capability chain: more than ${MAX_CAPABILITIES} entries`);
    }
    if (offset < minOffset || offset + vfio_info_cap_header.size > buf.length) {
      throw new RangeError(
        `Cannot parse VFIO capability chain: offset "${offset}" is outside ${minOffset}..${buf.length - vfio_info_cap_header.size}`,
      );
    }
    if (offset % 4 !== 0) {
      throw new RangeError(`Cannot parse VFIO capability chain: offset "${offset}" is not 4-byte aligned`);
    }
    const id = getU16(buf, offset + vfio_info_cap_header.fields.id.offset);
    const version = getU16(buf, offset + vfio_info_cap_header.fields.version.offset);
    const next = getU32(buf, offset + vfio_info_cap_header.fields.next.offset);
    if (next !== 0 && next <= offset) {
      throw new RangeError(`Cannot parse VFIO capability chain: next offset "${next}" after "${offset}" goes backwards`);
    }
    out.push({ id, version, offset, length: (next === 0 ? buf.length : next) - offset });
    offset = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Encoders and decoders
// ---------------------------------------------------------------------------------------

function alloc(size: number): Uint8Array {
  const buf = new Uint8Array(size);
  setU32(buf, 0, size); // argsz is the first member of every ioctl struct here
  return buf;
}

/** A `vfio_group_status` buffer with argsz set, for VFIO_GROUP_GET_STATUS. */
export function encodeGroupStatus(): Uint8Array {
  return alloc(vfio_group_status.size);
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
  return alloc(Math.max(argsz, vfio_device_info.size));
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

/** A mmap-able window of a region (from the sparse-mmap capability), relative to the region. */
export interface SparseArea {
  readonly offset: number;
  readonly size: number;
}

/** What VFIO_DEVICE_GET_REGION_INFO tells about one region, capabilities decoded. */
export interface RegionInfo {
  /** Region index. */
  readonly index: number;
  /** VFIO_REGION_INFO_FLAG_* bits. */
  readonly flags: number;
  /** Region size in bytes (0: the region does not exist). */
  readonly size: number;
  /** Offset of the region within the device fd (for pread/pwrite/mmap). */
  readonly offset: number;
  /** VFIO_REGION_INFO_FLAG_READ. */
  readonly readable: boolean;
  /** VFIO_REGION_INFO_FLAG_WRITE. */
  readonly writable: boolean;
  /** VFIO_REGION_INFO_FLAG_MMAP. */
  readonly mmappable: boolean;
  /**
   * The mmap-able areas: those of the sparse-mmap capability when present, else the
   * whole region when it is mmap-able, else none.
   */
  readonly mmapAreas: readonly SparseArea[];
  /** Whether the sparse-mmap capability was present (then only `mmapAreas` can be mapped). */
  readonly sparse: boolean;
  /** Type and subtype from VFIO_REGION_INFO_CAP_TYPE, when present. */
  readonly type: { readonly type: number; readonly subtype: number } | undefined;
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE was present. */
  readonly msixMappable: boolean;
  /** Every capability of the chain, known or not. */
  readonly capabilities: readonly CapabilityEntry[];
}

/**
 * A `vfio_region_info` buffer for VFIO_DEVICE_GET_REGION_INFO.
 *
 * @param index The region index.
 * @param argsz The buffer size to offer; the kernel answers a larger `argsz` when the
 *   capability chain does not fit, and the caller repeats with it.
 */
export function encodeRegionInfo(index: number, argsz: number = vfio_region_info.size): Uint8Array {
  const buf = alloc(Math.max(argsz, vfio_region_info.size));
  setU32(buf, vfio_region_info.fields.index.offset, index);
  return buf;
}

/** The `argsz` the kernel wrote back into a region-info buffer (the size it needs). */
export function regionInfoArgsz(buf: Uint8Array): number {
  return getU32(buf, vfio_region_info.fields.argsz.offset);
}

/**
 * Decodes a filled `vfio_region_info` with its capability chain.
 *
 * Capabilities are read only when VFIO_REGION_INFO_FLAG_CAPS is set and the buffer holds
 * the whole chain (the kernel sets `cap_offset` only then).
 *
 * @throws {RangeError} On a malformed chain or a size/offset above 2^53.
 */
export function decodeRegionInfo(buf: Uint8Array): RegionInfo {
  const f = vfio_region_info.fields;
  const flags = getU32(buf, f.flags.offset);
  const index = getU32(buf, f.index.offset);
  const size = u64ToNumber(getU64(buf, f.size.offset), "region size");
  const offset = u64ToNumber(getU64(buf, f.offset.offset), "region offset");
  const capOffset = getU32(buf, f.cap_offset.offset);
  const caps = flags & VFIO_REGION_INFO_FLAG_CAPS ? parseCapabilityChain(buf, capOffset, vfio_region_info.size) : [];
  let areas: SparseArea[] | undefined;
  let type: { type: number; subtype: number } | undefined;
  let msixMappable = false;
  for (const cap of caps) {
    if (cap.id === VFIO_REGION_INFO_CAP_SPARSE_MMAP) areas = decodeSparseMmap(buf, cap);
    else if (cap.id === VFIO_REGION_INFO_CAP_TYPE) type = decodeRegionType(buf, cap);
    else if (cap.id === VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) msixMappable = true;
  }
  const mmappable = (flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0;
  const mmapAreas = areas ?? (mmappable && size > 0 ? [{ offset: 0, size }] : []);
  return Object.freeze({
    index,
    flags,
    size,
    offset,
    readable: (flags & VFIO_REGION_INFO_FLAG_READ) !== 0,
    writable: (flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0,
    mmappable,
    mmapAreas: Object.freeze(mmapAreas.map((a) => Object.freeze(a))),
    sparse: areas !== undefined,
    type: type === undefined ? undefined : Object.freeze(type),
    msixMappable,
    capabilities: Object.freeze(caps),
  });
}

function decodeSparseMmap(buf: Uint8Array, cap: CapabilityEntry): SparseArea[] {
  const c = vfio_region_info_cap_sparse_mmap;
  const a = vfio_region_sparse_mmap_area;
  if (cap.offset + c.size > buf.length) {
    throw new RangeError(`Cannot parse sparse-mmap capability at "${cap.offset}": it is cut off`);
  }
  const n = getU32(buf, cap.offset + c.fields.nr_areas.offset);
  const first = cap.offset + c.fields.areas.offset;
  if (first + n * a.size > buf.length) {
    throw new RangeError(`Cannot parse sparse-mmap capability at "${cap.offset}": "${n}" areas do not fit the buffer`);
  }
  const out: SparseArea[] = [];
  for (let i = 0; i < n; i++) {
    const at = first + i * a.size;
    out.push({
      offset: u64ToNumber(getU64(buf, at + a.fields.offset.offset), "sparse area offset"),
      size: u64ToNumber(getU64(buf, at + a.fields.size.offset), "sparse area size"),
    });
  }
  return out;
}

function decodeRegionType(buf: Uint8Array, cap: CapabilityEntry): { type: number; subtype: number } {
  const c = vfio_region_info_cap_type;
  if (cap.offset + c.size > buf.length) {
    throw new RangeError(`Cannot parse region-type capability at "${cap.offset}": it is cut off`);
  }
  return { type: getU32(buf, cap.offset + c.fields.type.offset), subtype: getU32(buf, cap.offset + c.fields.subtype.offset) };
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
  const buf = alloc(vfio_irq_info.size);
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
 * encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
 *                index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, eventfds: [efd] });
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
  const buf = alloc(vfio_irq_set.size + tail);
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

/** An inclusive IOVA range the IOMMU can translate. */
export interface IovaRange {
  readonly start: bigint;
  /** Last usable address (inclusive). */
  readonly end: bigint;
}

/** What VFIO_IOMMU_GET_INFO tells about a type1 IOMMU. */
export interface IommuInfo {
  /** VFIO_IOMMU_INFO_* bits. */
  readonly flags: number;
  /** Bitmap of supported IOMMU page sizes (bit n set: 2^n bytes). */
  readonly iovaPgsizes: bigint;
  /** Usable IOVA ranges; undefined when the kernel did not report the capability. */
  readonly iovaRanges: readonly IovaRange[] | undefined;
  /** How many more DMA mappings are allowed, when reported. */
  readonly dmaAvail: number | undefined;
  /** Every capability of the chain. */
  readonly capabilities: readonly CapabilityEntry[];
}

/** A `vfio_iommu_type1_info` buffer for VFIO_IOMMU_GET_INFO. */
export function encodeIommuInfo(argsz: number = vfio_iommu_type1_info.size): Uint8Array {
  return alloc(Math.max(argsz, vfio_iommu_type1_info.size));
}

/** The `argsz` the kernel wrote back into an IOMMU-info buffer. */
export function iommuInfoArgsz(buf: Uint8Array): number {
  return getU32(buf, vfio_iommu_type1_info.fields.argsz.offset);
}

/**
 * Decodes a filled `vfio_iommu_type1_info` with its capability chain.
 *
 * @throws {RangeError} On a malformed chain.
 */
export function decodeIommuInfo(buf: Uint8Array): IommuInfo {
  const f = vfio_iommu_type1_info.fields;
  const flags = getU32(buf, f.flags.offset);
  const capOffset = getU32(buf, f.cap_offset.offset);
  const caps = flags & VFIO_IOMMU_INFO_CAPS ? parseCapabilityChain(buf, capOffset, vfio_iommu_type1_info.size) : [];
  let ranges: IovaRange[] | undefined;
  let dmaAvail: number | undefined;
  for (const cap of caps) {
    if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const c = vfio_iommu_type1_info_cap_iova_range;
      const r = vfio_iova_range;
      if (cap.offset + c.size > buf.length) throw new RangeError(`Cannot parse IOVA-range capability at "${cap.offset}": it is cut off`);
      const n = getU32(buf, cap.offset + c.fields.nr_iovas.offset);
      const first = cap.offset + c.fields.iova_ranges.offset;
      if (first + n * r.size > buf.length) {
        throw new RangeError(`Cannot parse IOVA-range capability at "${cap.offset}": "${n}" ranges do not fit the buffer`);
      }
      ranges = [];
      for (let i = 0; i < n; i++) {
        const at = first + i * r.size;
        ranges.push(Object.freeze({ start: getU64(buf, at + r.fields.start.offset), end: getU64(buf, at + r.fields.end.offset) }));
      }
    } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      const c = vfio_iommu_type1_info_dma_avail;
      if (cap.offset + c.size > buf.length) throw new RangeError(`Cannot parse DMA-avail capability at "${cap.offset}": it is cut off`);
      dmaAvail = getU32(buf, cap.offset + c.fields.avail.offset);
    }
  }
  return Object.freeze({
    flags,
    iovaPgsizes: flags & VFIO_IOMMU_INFO_PGSIZES ? getU64(buf, f.iova_pgsizes.offset) : 0n,
    iovaRanges: ranges === undefined ? undefined : Object.freeze(ranges),
    dmaAvail,
    capabilities: Object.freeze(caps),
  });
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
  const buf = alloc(vfio_iommu_type1_dma_map.size);
  setU32(buf, f.flags.offset, req.flags);
  setU64(buf, f.vaddr.offset, req.vaddr);
  setU64(buf, f.iova.offset, req.iova);
  setU64(buf, f.size.offset, req.size);
  return buf;
}

/** Builds a `vfio_iommu_type1_dma_unmap` (without a dirty bitmap). */
export function encodeDmaUnmap(req: { readonly flags: number; readonly iova: bigint; readonly size: bigint }): Uint8Array {
  const f = vfio_iommu_type1_dma_unmap.fields;
  const buf = alloc(vfio_iommu_type1_dma_unmap.size);
  setU32(buf, f.flags.offset, req.flags);
  setU64(buf, f.iova.offset, req.iova);
  setU64(buf, f.size.offset, req.size);
  return buf;
}

/** The number of bytes the kernel reports as unmapped in a `vfio_iommu_type1_dma_unmap`. */
export function decodeDmaUnmapSize(buf: Uint8Array): bigint {
  return getU64(buf, vfio_iommu_type1_dma_unmap.fields.size.offset);
}
