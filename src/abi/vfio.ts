/**
 * The VFIO user-space ABI's constants and ioctl numbers, from `<linux/vfio.h>` (Linux 6.1
 * uapi, Debian 12's `linux-libc-dev`), with the kernel's names kept verbatim so a grep
 * against the header finds them. The struct layouts are in `vfio_layout.ts`, the
 * encoders and decoders in `vfio_codec.ts` and `vfio_caps.ts`.
 * `tests/unit/abi_layout.test.ts` compares every constant and ioctl number with a C probe.
 *
 * @module
 */

import { _IO } from "./ioctl.ts";

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

/** The name of each VFIO ioctl number, for errors and traces: `VFIO_IOCTL_NAMES.get(VFIO_SET_IOMMU)`. */
export const VFIO_IOCTL_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(VFIO_IOCTLS).map(([k, v]) => [v, k]));

/** The kernel's name of an IOMMU type (`"VFIO_TYPE1v2_IOMMU"`), or `"IOMMU type N"`. */
export function iommuTypeName(type: number): string {
  switch (type) {
    case VFIO_TYPE1_IOMMU:
      return "VFIO_TYPE1_IOMMU";
    case VFIO_TYPE1v2_IOMMU:
      return "VFIO_TYPE1v2_IOMMU";
    case VFIO_NOIOMMU_IOMMU:
      return "VFIO_NOIOMMU_IOMMU";
    default:
      return `IOMMU type ${type}`;
  }
}
