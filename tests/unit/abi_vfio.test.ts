// Encoders and decoders of the VFIO structs, on crafted bytes: the capability-chain parser
// (sparse mmap areas, region type, MSI-X mappable, IOVA ranges), malformed chains, the
// vfio_irq_set eventfd tail, and DMA map/unmap.
import { describe, expect, test } from "bun:test";
import * as v from "../../src/abi/mod.ts";

/** A little-endian byte builder for crafted kernel answers (the test machine is LE). */
function bytes(size: number): { buf: Uint8Array; u16: (o: number, x: number) => void; u32: (o: number, x: number) => void; u64: (o: number, x: bigint) => void } {
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  return {
    buf,
    u16: (o, x) => dv.setUint16(o, x, true),
    u32: (o, x) => dv.setUint32(o, x, true),
    u64: (o, x) => dv.setBigUint64(o, x, true),
  };
}

/** A region info as the kernel fills it: BAR with a sparse-mmap cap (2 areas) → type cap → MSI-X cap. */
function craftedRegionInfo(): Uint8Array {
  const b = bytes(32 + 16 + 32 + 16 + 8);
  b.u32(0, 104); // argsz
  b.u32(4, v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_WRITE | v.VFIO_REGION_INFO_FLAG_MMAP | v.VFIO_REGION_INFO_FLAG_CAPS);
  b.u32(8, 2); // index
  b.u32(12, 32); // cap_offset
  b.u64(16, 0x100000n); // size
  b.u64(24, 0x20000000000n); // offset (index << 40)
  // sparse mmap at 32
  b.u16(32, v.VFIO_REGION_INFO_CAP_SPARSE_MMAP);
  b.u16(34, 1);
  b.u32(36, 80); // next
  b.u32(40, 2); // nr_areas
  b.u64(48, 0n);
  b.u64(56, 0x3000n);
  b.u64(64, 0x4000n);
  b.u64(72, 0xc000n);
  // region type at 80
  b.u16(80, v.VFIO_REGION_INFO_CAP_TYPE);
  b.u16(82, 1);
  b.u32(84, 96);
  b.u32(88, v.VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086);
  b.u32(92, 3);
  // MSI-X mappable at 96 (header only), end of chain
  b.u16(96, v.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
  b.u16(98, 1);
  b.u32(100, 0);
  return b.buf;
}

describe("capability chain parser", () => {
  test("walks a three-entry chain in order with ids, versions, offsets and lengths", () => {
    const caps = v.parseCapabilityChain(craftedRegionInfo(), 32, v.vfio_region_info.size);
    expect(caps).toEqual([
      { id: 1, version: 1, offset: 32, length: 48 },
      { id: 2, version: 1, offset: 80, length: 16 },
      { id: 3, version: 1, offset: 96, length: 8 },
    ]);
  });

  test("decodeRegionInfo gives the sparse areas, the region type and MSI-X mappability", () => {
    const info = v.decodeRegionInfo(craftedRegionInfo());
    expect(info.index).toBe(2);
    expect(info.size).toBe(0x100000);
    expect(info.offset).toBe(0x20000000000);
    expect(info.readable && info.writable && info.mmappable).toBe(true);
    expect(info.sparse).toBe(true);
    expect(info.mmapAreas).toEqual([
      { offset: 0, size: 0x3000 },
      { offset: 0x4000, size: 0xc000 },
    ]);
    expect(info.type).toEqual({ type: 0x80008086, subtype: 3 });
    expect(info.msixMappable).toBe(true);
    expect(info.capabilities.length).toBe(3);
  });

  test("without the CAPS flag the chain is ignored and a mmap-able region maps whole", () => {
    const buf = craftedRegionInfo();
    new DataView(buf.buffer).setUint32(4, v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_MMAP, true);
    const info = v.decodeRegionInfo(buf);
    expect(info.sparse).toBe(false);
    expect(info.capabilities).toEqual([]);
    expect(info.mmapAreas).toEqual([{ offset: 0, size: 0x100000 }]);
    expect(info.writable).toBe(false);
  });

  test("refuses a loop, an offset outside the buffer, inside the fixed struct, or misaligned", () => {
    const buf = craftedRegionInfo();
    const dv = new DataView(buf.buffer);
    dv.setUint32(100, 32, true); // last cap points back to the first
    expect(() => v.parseCapabilityChain(buf, 32, 32)).toThrow(/backwards/);
    expect(() => v.parseCapabilityChain(buf, 200, 32)).toThrow(/outside/);
    expect(() => v.parseCapabilityChain(buf, 8, 32)).toThrow(/outside/);
    expect(() => v.parseCapabilityChain(buf, 34, 32)).toThrow(/aligned/);
  });

  test("refuses a sparse-mmap capability whose areas do not fit the buffer", () => {
    const buf = craftedRegionInfo();
    new DataView(buf.buffer).setUint32(40, 1000, true); // nr_areas
    expect(() => v.decodeRegionInfo(buf)).toThrow(/do not fit/);
  });

  test("decodeIommuInfo reads page sizes, IOVA ranges and DMA-avail from the chain", () => {
    const b = bytes(24 + 16 + 32 + 12 + 4);
    b.u32(0, 88);
    b.u32(4, v.VFIO_IOMMU_INFO_PGSIZES | v.VFIO_IOMMU_INFO_CAPS);
    b.u64(8, 0x40201000n);
    b.u32(16, 24);
    b.u16(24, v.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    b.u16(26, 1);
    b.u32(28, 72);
    b.u32(32, 2);
    b.u64(40, 0n);
    b.u64(48, 0xfedfffffn);
    b.u64(56, 0xfef00000n);
    b.u64(64, 0xffffffffffffn);
    b.u16(72, v.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    b.u16(74, 1);
    b.u32(76, 0);
    b.u32(80, 65535);
    const info = v.decodeIommuInfo(b.buf);
    expect(info.iovaPgsizes).toBe(0x40201000n);
    expect(info.iovaRanges).toEqual([
      { start: 0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0xffffffffffffn },
    ]);
    expect(info.dmaAvail).toBe(65535);
  });
});

describe("encoders", () => {
  test("encodeRegionInfo sets argsz from the layout (or the larger size asked) and the index", () => {
    const a = v.encodeRegionInfo(7);
    expect(a.length).toBe(32);
    expect(new DataView(a.buffer).getUint32(0, true)).toBe(32);
    expect(new DataView(a.buffer).getUint32(8, true)).toBe(7);
    const b = v.encodeRegionInfo(7, 104);
    expect(b.length).toBe(104);
    expect(v.regionInfoArgsz(b)).toBe(104);
  });

  test("encodeIrqSet lays out the header and one __s32 eventfd per vector", () => {
    const flags = v.VFIO_IRQ_SET_DATA_EVENTFD | v.VFIO_IRQ_SET_ACTION_TRIGGER;
    const buf = v.encodeIrqSet({ flags, index: v.VFIO_PCI_MSIX_IRQ_INDEX, start: 1, count: 3, eventfds: [10, -1, 12] });
    const dv = new DataView(buf.buffer);
    expect(buf.length).toBe(20 + 12);
    expect([0, 4, 8, 12, 16].map((o) => dv.getUint32(o, true))).toEqual([32, flags, 2, 1, 3]);
    expect([20, 24, 28].map((o) => dv.getInt32(o, true))).toEqual([10, -1, 12]);
  });

  test("encodeIrqSet: DATA_NONE has no tail, DATA_BOOL one byte per vector, mismatches are refused", () => {
    const none = v.encodeIrqSet({ flags: v.VFIO_IRQ_SET_DATA_NONE | v.VFIO_IRQ_SET_ACTION_UNMASK, index: 0, start: 0, count: 1 });
    expect(none.length).toBe(20);
    const bools = v.encodeIrqSet({ flags: v.VFIO_IRQ_SET_DATA_BOOL | v.VFIO_IRQ_SET_ACTION_MASK, index: 0, start: 0, count: 2, bools: [true, false] });
    expect([...bools.subarray(20)]).toEqual([1, 0]);
    expect(() => v.encodeIrqSet({ flags: v.VFIO_IRQ_SET_DATA_EVENTFD | v.VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, start: 0, count: 2, eventfds: [3] })).toThrow(RangeError);
    expect(() => v.encodeIrqSet({ flags: v.VFIO_IRQ_SET_DATA_EVENTFD | v.VFIO_IRQ_SET_DATA_BOOL, index: 0, start: 0, count: 0 })).toThrow(RangeError);
  });

  test("encodeDmaMap and encodeDmaUnmap write 64-bit vaddr, iova and size", () => {
    const m = v.encodeDmaMap({ flags: 3, vaddr: 0x7f0012345000n, iova: 0x1000n, size: 0x2000n });
    const dm = new DataView(m.buffer);
    expect(m.length).toBe(32);
    expect([dm.getUint32(0, true), dm.getUint32(4, true)]).toEqual([32, 3]);
    expect([dm.getBigUint64(8, true), dm.getBigUint64(16, true), dm.getBigUint64(24, true)]).toEqual([0x7f0012345000n, 0x1000n, 0x2000n]);
    const u = v.encodeDmaUnmap({ flags: 0, iova: 0x1000n, size: 0x2000n });
    expect(u.length).toBe(24);
    expect(v.decodeDmaUnmapSize(u)).toBe(0x2000n);
  });

  test("decodeIrqInfo and decodeDeviceInfo read flags and counts", () => {
    const b = bytes(16);
    b.u32(4, v.VFIO_IRQ_INFO_EVENTFD | v.VFIO_IRQ_INFO_MASKABLE | v.VFIO_IRQ_INFO_AUTOMASKED);
    b.u32(8, 0);
    b.u32(12, 1);
    expect(v.decodeIrqInfo(b.buf)).toMatchObject({ index: 0, count: 1, eventfd: true, maskable: true, automasked: true, noresize: false });
    const d = bytes(20);
    d.u32(4, v.VFIO_DEVICE_FLAGS_PCI | v.VFIO_DEVICE_FLAGS_RESET);
    d.u32(8, 9);
    d.u32(12, 5);
    expect(v.decodeDeviceInfo(d.buf)).toMatchObject({ flags: 3, numRegions: 9, numIrqs: 5 });
  });
});
