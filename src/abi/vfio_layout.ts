/**
 * The layouts of the VFIO structs of `<linux/vfio.h>` that this library uses: `sizeof` and
 * every member's offset and width, with the kernel's names kept verbatim.
 *
 * Taken from Debian 12's `linux-libc-dev` 6.1 (`/usr/include/linux/vfio.h`, the uapi
 * header of Linux 6.1). `tests/unit/abi_layout.test.ts` compiles a C probe against the
 * installed header and compares every size and offset below.
 *
 * @module
 */

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
