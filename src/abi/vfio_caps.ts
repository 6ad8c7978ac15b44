/**
 * The VFIO info structs that end in a capability chain (region info, type1 IOMMU info):
 * their encoders, the `argsz` renegotiation, and the chain parser, as pure functions.
 *
 * @module
 */

import { vfio_info_cap_header, vfio_iommu_type1_info, vfio_iommu_type1_info_cap_iova_range, vfio_iommu_type1_info_dma_avail, vfio_iova_range, vfio_region_info, vfio_region_info_cap_sparse_mmap, vfio_region_info_cap_type, vfio_region_sparse_mmap_area } from "./vfio_layout.ts";
import {
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "./vfio.ts";
import { allocArgsz, getU16, getU32, getU64, setU32, u64ToNumber } from "./_bytes.ts";

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
 * import { parseCapabilityChain, vfio_region_info } from "warpdrive/abi";
 *
 * declare const buf: Uint8Array; // a vfio_region_info filled by VFIO_DEVICE_GET_REGION_INFO
 * declare const capOffset: number; // its cap_offset field
 * const caps = parseCapabilityChain(buf, capOffset, vfio_region_info.size);
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
  const buf = allocArgsz(Math.max(argsz, vfio_region_info.size));
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
  return allocArgsz(Math.max(argsz, vfio_iommu_type1_info.size));
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
