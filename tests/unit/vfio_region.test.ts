// Regions without a kernel: argsz renegotiation of VFIO_DEVICE_GET_REGION_INFO against a
// fake ioctl, and a memfd standing in for a device region (pread/pwrite accessors, mmap,
// sparse areas, bounds, alignment, use after close).
import { describe, expect, test } from "bun:test";
import * as v from "../../src/abi/mod.ts";
import { ClosedError, Fd, ftruncate, memfdCreate, MFD_CLOEXEC, type IoctlArg, type IoctlTarget } from "../../src/sys/mod.ts";
import { readRegionInfo, Region } from "../../src/vfio/mod.ts";

/** A fake device fd answering GET_REGION_INFO like the kernel: first the size it needs. */
function renegotiatingTarget(calls: number[], need = 32 + 16 + 32): IoctlTarget {
  return {
    ioctl(request: number, arg: IoctlArg): number {
      expect(request).toBe(v.VFIO_DEVICE_GET_REGION_INFO);
      const buf = arg as Uint8Array;
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      calls.push(dv.getUint32(0, true));
      dv.setUint32(4, v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_WRITE | v.VFIO_REGION_INFO_FLAG_MMAP | v.VFIO_REGION_INFO_FLAG_CAPS, true);
      dv.setBigUint64(16, 0x10000n, true);
      dv.setBigUint64(24, 0x40000n, true);
      if (buf.length < need) {
        dv.setUint32(0, need, true);
        return 0;
      }
      dv.setUint32(12, 32, true);
      dv.setUint16(32, v.VFIO_REGION_INFO_CAP_SPARSE_MMAP, true);
      dv.setUint16(34, 1, true);
      dv.setUint32(36, 0, true);
      dv.setUint32(40, 2, true);
      dv.setBigUint64(48, 0n, true);
      dv.setBigUint64(56, 0x1000n, true);
      dv.setBigUint64(64, 0x8000n, true);
      dv.setBigUint64(72, 0x8000n, true);
      return 0;
    },
  };
}

describe("readRegionInfo", () => {
  test("repeats the ioctl with the argsz the kernel asked for, then decodes the chain", () => {
    const calls: number[] = [];
    const info = readRegionInfo(renegotiatingTarget(calls), 2);
    expect(calls).toEqual([32, 80]);
    expect(info.sparse).toBe(true);
    expect(info.mmapAreas).toEqual([
      { offset: 0, size: 0x1000 },
      { offset: 0x8000, size: 0x8000 },
    ]);
    expect(info.offset).toBe(0x40000);
  });

  test("asks once when the struct is enough", () => {
    const calls: number[] = [];
    const target: IoctlTarget = {
      ioctl(_r, arg) {
        const dv = new DataView((arg as Uint8Array).buffer);
        calls.push(dv.getUint32(0, true));
        dv.setUint32(4, v.VFIO_REGION_INFO_FLAG_READ, true);
        dv.setBigUint64(16, 256n, true);
        return 0;
      },
    };
    expect(readRegionInfo(target, 7).size).toBe(256);
    expect(calls).toEqual([32]);
  });

  test("refuses a kernel that asks for an absurd size", () => {
    expect(() => readRegionInfo(renegotiatingTarget([], 1 << 20), 0)).toThrow(/asks for "1048576" bytes/);
  });

  test("passes on the ioctl's error", () => {
    const target: IoctlTarget = {
      ioctl() {
        throw new Error("EINVAL from the fake");
      },
    };
    expect(() => readRegionInfo(target, 9)).toThrow("EINVAL from the fake");
  });
});

function regionInfo(size: number, flags: number, sparse?: { offset: number; size: number }[]): v.RegionInfo {
  return {
    index: 0,
    flags,
    size,
    offset: 0x2000,
    readable: (flags & v.VFIO_REGION_INFO_FLAG_READ) !== 0,
    writable: (flags & v.VFIO_REGION_INFO_FLAG_WRITE) !== 0,
    mmappable: (flags & v.VFIO_REGION_INFO_FLAG_MMAP) !== 0,
    mmapAreas: sparse ?? ((flags & v.VFIO_REGION_INFO_FLAG_MMAP) !== 0 ? [{ offset: 0, size }] : []),
    sparse: sparse !== undefined,
    type: undefined,
    msixMappable: false,
    capabilities: [],
  };
}

const RWM = v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_WRITE | v.VFIO_REGION_INFO_FLAG_MMAP;

function memfd(size: number): Fd {
  const fd = Fd.adopt(memfdCreate("region", MFD_CLOEXEC), { label: "memfd region file", path: "memfd:region" });
  ftruncate(fd.fd, size);
  return fd;
}

describe("Region over a memfd", () => {
  test("pread/pwrite accessors work at the region's offset in the file", () => {
    using fd = memfd(0x10000);
    const r = Region.fromFd(fd, regionInfo(0x4000, RWM), { label: "fake BAR" });
    r.write32(8, 0x11223344);
    r.write64(16, 0x0102030405060708n);
    r.write16(2, 0xabcd);
    r.write8(1, 0x7f);
    expect([r.read32(8), r.read64(16), r.read16(2), r.read8(1)]).toEqual([0x11223344, 0x0102030405060708n, 0xabcd, 0x7f]);
    const raw = new Uint8Array(4);
    fd.pread(raw, 0x2000 + 8);
    expect(new Uint32Array(raw.buffer)[0]).toBe(0x11223344);
    expect([...r.read(8, 4)]).toEqual([...raw]);
    r.write(100, new Uint8Array([9, 8, 7]));
    expect([...r.read(100, 3)]).toEqual([9, 8, 7]);
  });

  test("map() gives accessors over the same bytes", () => {
    using fd = memfd(0x10000);
    const r = Region.fromFd(fd, regionInfo(0x4000, RWM));
    const m = r.map();
    expect(m.size).toBe(0x4000);
    r.write32(0x10, 0xfeedface);
    expect(m.read32(0x10)).toBe(0xfeedface);
    m.write32(0x20, 0x600df00d);
    expect(r.read32(0x20)).toBe(0x600df00d);
    expect(r.mappings).toEqual([m]);
  });

  test("accesses outside the region or misaligned are RangeErrors, unreadable/unwritable TypeErrors", () => {
    using fd = memfd(0x10000);
    const r = Region.fromFd(fd, regionInfo(0x100, RWM), { label: "fake BAR" });
    expect(() => r.read32(0x100)).toThrow(/outside fake BAR \(0x0\.\.0x100\)/);
    expect(() => r.read32(0xfe)).toThrow(RangeError);
    expect(() => r.write32(2, 0)).toThrow(/4-byte aligned/);
    expect(() => r.read64(4)).toThrow(/8-byte aligned/);
    expect(() => r.read(0xf0, 0x20)).toThrow(RangeError);
    const ro = Region.fromFd(fd, regionInfo(0x100, v.VFIO_REGION_INFO_FLAG_READ), { label: "read-only region" });
    expect(() => ro.write32(0, 1)).toThrow(TypeError);
    expect(() => ro.map()).toThrow(/does not allow mmap/);
  });

  test("a sparse region maps only inside its areas", () => {
    using fd = memfd(0x20000);
    const r = Region.fromFd(fd, regionInfo(0x10000, RWM, [{ offset: 0, size: 0x1000 }, { offset: 0x8000, size: 0x8000 }]), { label: "sparse BAR" });
    expect(() => r.map()).toThrow(/only its sparse areas can be mapped \(0x0\+0x1000, 0x8000\+0x8000\)/);
    expect(() => r.map({ offset: 0x2000 })).toThrow(/not inside an mmap-able area/);
    expect(() => r.map({ offset: 0, size: 0x2000 })).toThrow(/outside the mmap-able area/);
    expect(r.map({ offset: 0x9000 }).size).toBe(0x7000);
    const areas = r.mapAreas();
    expect(areas.map((a) => a.size)).toEqual([0x1000, 0x8000]);
    r.write32(0x8004, 42);
    expect(areas[1]!.read32(4)).toBe(42);
  });

  test("close() unmaps its mappings; then every call throws ClosedError; close twice is a no-op", () => {
    using fd = memfd(0x10000);
    const r = Region.fromFd(fd, regionInfo(0x4000, RWM), { label: "fake BAR" });
    const m = r.map();
    const view = m.view(Uint32Array, 0, 4);
    r.close();
    expect(m.closed).toBe(true);
    expect(view.length).toBe(0);
    expect(() => m.read32(0)).toThrow(ClosedError);
    expect(() => r.read32(0)).toThrow("Cannot read 32-bit value at \"0x0\": fake BAR is closed");
    expect(() => r.write32(0, 1)).toThrow(ClosedError);
    expect(() => r.map()).toThrow(ClosedError);
    expect(() => r.mapAreas()).toThrow(ClosedError);
    expect(r.closed).toBe(true);
    r.close();
  });

  test("a region whose owner closed refuses calls", () => {
    using fd = memfd(0x10000);
    let alive = true;
    const r = Region.fromFd(fd, regionInfo(0x4000, RWM), { label: "owned BAR", alive: () => alive });
    expect(r.read32(0)).toBe(0);
    alive = false;
    expect(r.closed).toBe(true);
    expect(() => r.read32(0)).toThrow(ClosedError);
  });
});
