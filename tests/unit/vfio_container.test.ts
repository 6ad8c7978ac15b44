// Container, Group, Device, Irq and DmaBuffer against a fake VFIO kernel (ioctl injection,
// temporary /dev and /sys): the open sequence, IOMMU type choice, advice in errors, DMA
// with the IOVA allocator and EEXIST, teardown order, use after close and double close.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import * as v from "../../src/abi/mod.ts";
import { ClosedError, SyscallError } from "../../src/sys/mod.ts";
import { Container, PCI_COMMAND, PCI_COMMAND_MASTER, VfioError } from "../../src/vfio/mod.ts";
import { FakeVfio, type FakeOptions } from "./fixtures/fake_vfio.ts";

let fakes: FakeVfio[] = [];
function fake(o: FakeOptions = {}): FakeVfio {
  const f = new FakeVfio(o);
  fakes.push(f);
  return f;
}
afterEach(() => {
  for (const f of fakes) f.remove();
  fakes = [];
});

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

function catchError(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected an error");
}

describe("opening", () => {
  test("openDevice: API version, group status, SET_CONTAINER, TYPE1v2, IOMMU info (renegotiated), device fd, info", () => {
    const f = fake();
    using c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    expect(f.log).toEqual([
      "container:VFIO_GET_API_VERSION",
      "group:VFIO_GROUP_GET_STATUS",
      "group:VFIO_GROUP_GET_STATUS",
      "group:VFIO_GROUP_SET_CONTAINER",
      "container:VFIO_CHECK_EXTENSION",
      "container:VFIO_SET_IOMMU",
      "container:VFIO_IOMMU_GET_INFO",
      "container:VFIO_IOMMU_GET_INFO",
      "group:VFIO_GROUP_GET_DEVICE_FD",
      "device:VFIO_DEVICE_GET_INFO",
    ]);
    expect(c.iommuType).toBe(v.VFIO_TYPE1v2_IOMMU);
    expect(c.iommuInfo?.iovaRanges).toEqual([{ start: 0n, end: 0xfedfffffn }]);
    expect(dev.group?.id).toBe(f.groupId);
    expect(dev.isPci && dev.canReset).toBe(true);
    expect(dev.info.numRegions).toBe(9);
    expect(dev.sysfsPath).toBe(`${f.sysfsRoot}/bus/pci/devices/${f.bdf}`);
  });

  test("falls back to TYPE1 when TYPE1v2 is not offered", () => {
    const f = fake({ extensions: [v.VFIO_TYPE1_IOMMU] });
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    expect(c.iommuType).toBe(v.VFIO_TYPE1_IOMMU);
  });

  test("no IOMMU type offered: an error listing what was tried, and nothing left open", () => {
    const f = fake({ extensions: [] });
    const before = fdCount();
    const c = Container.open(f.options());
    const e = catchError(() => c.openDevice(f.bdf));
    expect(e).toBeInstanceOf(VfioError);
    expect(e.code).toBe("ERR_VFIO_NO_IOMMU_TYPE");
    expect(e.message).toContain("VFIO_TYPE1v2_IOMMU not offered, VFIO_TYPE1_IOMMU not offered");
    expect(c.groups).toEqual([]);
    c.close();
    expect(fdCount()).toBe(before);
  });

  test("SET_IOMMU EPERM explains interrupt remapping", () => {
    const f = fake({ setIommuError: "EPERM" });
    using c = Container.open(f.options());
    const e = catchError(() => c.openDevice(f.bdf));
    expect(e).toBeInstanceOf(SyscallError);
    expect(e.code).toBe("EPERM");
    expect(e.message).toContain("VFIO_SET_IOMMU");
    expect(e.message).toContain("interrupt remapping");
    expect(e.message).toContain("allow_unsafe_interrupts=1");
  });

  test("a group that is not viable names the devices bound to host drivers", () => {
    const f = fake({ viable: false, groupPeers: [{ name: "0000:00:03.1", driver: "e1000e" }] });
    using c = Container.open(f.options());
    const e = catchError(() => c.openDevice(f.bdf));
    expect(e).toBeInstanceOf(VfioError);
    expect(e.code).toBe("ERR_VFIO_GROUP_NOT_VIABLE");
    expect(e.message).toContain(`Cannot use VFIO group ${f.groupId}: it is not viable`);
    expect(e.message).toContain("0000:00:03.1 (bound to e1000e)");
  });

  test("a missing container node says to load VFIO", () => {
    const e = catchError(() => Container.open({ devRoot: "/nonexistent-dev" }));
    expect(e).toBeInstanceOf(SyscallError);
    expect(e.code).toBe("ENOENT");
    expect(e.message).toBe('Cannot open "/nonexistent-dev/vfio/vfio": ENOENT (No such file or directory): VFIO is not available: load it (modprobe vfio-pci)');
  });

  test("a no-IOMMU group is refused unless allowed, and then gives no DMA", () => {
    const f = fake({ noiommu: true, extensions: [v.VFIO_NOIOMMU_IOMMU] });
    {
      using c = Container.open(f.options());
      const e = catchError(() => c.openDevice(f.bdf));
      expect(e.code).toBe("ENOENT");
      expect(e.message).toContain(`noiommu-${f.groupId}`);
      expect(e.message).toContain("with allowNoIommu");
    }
    using c = Container.open(f.options({ allowNoIommu: true }));
    const dev = c.openDevice(f.bdf);
    expect(dev.group?.noiommu).toBe(true);
    expect(c.iommuType).toBe(v.VFIO_NOIOMMU_IOMMU);
    expect(() => c.allocDma(4096)).toThrow(/no IOMMU/);
  });

  test("SET_CONTAINER is skipped when the group already has one", () => {
    const f = fake();
    using a = Container.open(f.options());
    a.openDevice(f.bdf);
    using b = Container.open(f.options());
    b.openDevice(f.bdf); // the fake's node is not exclusive; the kernel's is
    expect(f.log.filter((l) => l === "group:VFIO_GROUP_SET_CONTAINER").length).toBe(1);
  });

  test("a name that is not in the group gets advice", () => {
    const f = fake();
    using c = Container.open(f.options());
    const g = c.openGroup(f.groupId);
    const e = catchError(() => g.openDevice("0000:00:09.0"));
    expect(e.code).toBe("EINVAL");
    expect(e.message).toContain('device "0000:00:09.0" is not in VFIO group 12');
  });

  test("openGroup returns the open group again instead of reopening it", () => {
    const f = fake();
    using c = Container.open(f.options());
    expect(c.openGroup(f.groupId)).toBe(c.openGroup(f.groupId));
  });
});

describe("device", () => {
  test("regions(): region info for every index the kernel describes, EINVAL ones left out", () => {
    const f = fake();
    using c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    expect(dev.regions().map((r) => r.index)).toEqual([0, 7]);
    expect(() => dev.regionInfo(9)).toThrow(RangeError);
    expect(dev.region(0)).toBe(dev.region(0));
  });

  test("a sparse region is renegotiated and maps by areas", () => {
    const rw = v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_WRITE | v.VFIO_REGION_INFO_FLAG_MMAP;
    const f = fake({ regions: [{ index: 2, size: 0x10000, flags: rw, sparse: [{ offset: 0x1000, size: 0x1000 }, { offset: 0x8000, size: 0x4000 }] }] });
    using c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    const r = dev.region(2);
    expect(f.log.filter((l) => l === "device:VFIO_DEVICE_GET_REGION_INFO").length).toBe(2);
    expect(r.info.mmapAreas).toEqual([{ offset: 0x1000, size: 0x1000 }, { offset: 0x8000, size: 0x4000 }]);
    const [a, b] = r.mapAreas();
    a!.write32(0, 0xaabbccdd);
    expect(r.read32(0x1000)).toBe(0xaabbccdd);
    expect(b!.size).toBe(0x4000);
  });

  test("pciConfig reads ids and sets bus mastering through the config region", () => {
    const f = fake();
    using c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    const cfg = dev.region(v.VFIO_PCI_CONFIG_REGION_INDEX);
    cfg.write(0, new Uint8Array([0x34, 0x12, 0xe8, 0x11]));
    const pci = dev.pciConfig();
    expect([pci.vendorId, pci.deviceId]).toEqual([0x1234, 0x11e8]);
    expect(pci.setBusMaster(true) & PCI_COMMAND_MASTER).toBe(PCI_COMMAND_MASTER);
    expect(cfg.read16(PCI_COMMAND) & PCI_COMMAND_MASTER).toBe(PCI_COMMAND_MASTER);
    expect(pci.setBusMaster(false) & PCI_COMMAND_MASTER).toBe(0);
  });

  test("IRQs: enable routes eventfds, trigger wakes wait(), disable detaches them", async () => {
    const f = fake();
    using c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    const msix = dev.irq(v.VFIO_PCI_MSIX_IRQ_INDEX);
    msix.enable({ count: 3 });
    expect(f.irqFds.get(v.VFIO_PCI_MSIX_IRQ_INDEX)).toEqual(msix.eventfds.map((e) => e.fd));
    const p = msix.wait({ vector: 2, timeout: 5000 });
    msix.trigger(2);
    expect(await p).toBe(1);
    expect(() => msix.enable()).toThrow(/already enabled/);
    expect(() => dev.irq(v.VFIO_PCI_MSI_IRQ_INDEX).enable({ count: 2 })).toThrow(/it has 1/);
    await expect(msix.wait({ vector: 5 })).rejects.toThrow(/only 3 enabled/);
    msix.disable();
    expect(f.irqFds.has(v.VFIO_PCI_MSIX_IRQ_INDEX)).toBe(false);
    expect(msix.enabled).toBe(false);
  });
});

describe("DMA", () => {
  test("allocDma picks IOVAs below the address limit and maps them; close unmaps", () => {
    const f = fake();
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    const a = c.allocDma(4096, { addressBits: 28 });
    const b = c.allocDma(3 * 4096, { addressBits: 28 });
    expect(a.iova).toBe(0x1000n);
    expect(b.iova).toBe(0x2000n);
    expect(f.dma).toEqual([{ iova: 0x1000n, size: 0x1000n }, { iova: 0x2000n, size: 0x3000n }]);
    a.close();
    expect(f.dma).toEqual([{ iova: 0x2000n, size: 0x3000n }]);
    expect(c.dmaBuffers).toEqual([b]);
  });

  test("EEXIST on an allocator-chosen IOVA: the range is skipped and another one tried", () => {
    const f = fake({ preMapped: [{ iova: 0x1000n, size: 0x1000n }] });
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    const buf = c.allocDma(4096);
    expect(buf.iova).toBe(0x2000n);
    expect(f.log.filter((l) => l === "container:VFIO_IOMMU_MAP_DMA").length).toBe(2);
  });

  test("EEXIST on a caller-chosen IOVA is reported as an overlap", () => {
    const f = fake({ preMapped: [{ iova: 0x10000n, size: 0x1000n }] });
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    const e = catchError(() => c.allocDma(4096, { iova: 0x10000n }));
    expect(e).toBeInstanceOf(SyscallError);
    expect(e.code).toBe("EEXIST");
    expect(e.message).toContain("IOVA range 0x10000+0x1000 overlaps an existing mapping");
    expect(c.allocDma(4096, { iova: 0x11000n }).iova).toBe(0x11000n); // the failed range was given back
  });

  test("ENOMEM from MAP_DMA explains RLIMIT_MEMLOCK", () => {
    const f = fake({ mapError: "ENOMEM" });
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    const e = catchError(() => c.allocDma(4096));
    expect(e.code).toBe("ENOMEM");
    expect(e.message).toContain("RLIMIT_MEMLOCK");
    expect(e.message).toContain("ulimit -l");
  });

  test("DMA needs an attached group, an aligned IOVA and a sane address width", () => {
    const f = fake();
    using c = Container.open(f.options());
    expect(() => c.allocDma(4096)).toThrow(/attach a group first/);
    c.openDevice(f.bdf);
    expect(() => c.allocDma(4096, { iova: 0x1234n })).toThrow(/aligned/);
    expect(() => c.allocDma(4096, { iova: 0x10000000n, addressBits: 28 })).toThrow(/28-bit address limit/);
    expect(() => c.allocDma(4096, { addressBits: 70 })).toThrow(RangeError);
  });

  test("IOVAs honour the IOMMU's reported ranges", () => {
    const f = fake({ iovaRanges: [{ start: 0x100000n, end: 0x101fffn }, { start: 0x200000n, end: 0xffffffn }] });
    using c = Container.open(f.options());
    c.openDevice(f.bdf);
    expect([c.allocDma(8192).iova, c.allocDma(4096).iova]).toEqual([0x100000n, 0x200000n]);
  });
});

describe("teardown", () => {
  test("container.close(): interrupts off before DMA unmaps, everything closed, no fd left", () => {
    const f = fake();
    const before = fdCount();
    const c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    const bar = dev.region(0).map();
    dev.irq(v.VFIO_PCI_MSI_IRQ_INDEX).enable();
    const buf = c.allocDma(8192);
    const view = buf.bytes();
    c.close();
    const irqOff = f.log.lastIndexOf("device:VFIO_DEVICE_SET_IRQS disable");
    const unmap = f.log.lastIndexOf("container:VFIO_IOMMU_UNMAP_DMA");
    expect(irqOff).toBeGreaterThan(0);
    expect(unmap).toBeGreaterThan(irqOff);
    expect(f.dma).toEqual([]);
    expect([bar.closed, dev.closed, buf.closed, c.closed]).toEqual([true, true, true, true]);
    expect(view.length).toBe(0);
    expect(fdCount()).toBe(before);
  });

  test("closing the last group unmaps DMA first; the next group sets the IOMMU again", () => {
    const f = fake();
    using c = Container.open(f.options());
    const g = c.openGroup(f.groupId);
    const buf = c.allocDma(4096);
    g.close();
    expect(buf.closed).toBe(true);
    expect(f.dma).toEqual([]);
    expect(c.iommuType).toBeUndefined();
    expect(() => c.allocDma(4096)).toThrow(/attach a group first/);
  });

  test("a close failure does not stop the rest, and is reported", () => {
    const f = fake();
    const before = fdCount();
    const c = Container.open(f.options());
    c.openDevice(f.bdf);
    const buf = c.allocDma(4096);
    f.dma.length = 0; // the kernel forgot the mapping: UNMAP reports 0 bytes
    const e = catchError(() => c.close());
    expect(e.message).toContain("the kernel unmapped 0x0 bytes");
    expect(buf.closed).toBe(true);
    expect(c.closed).toBe(true);
    expect(fdCount()).toBe(before);
  });

  test("every class: calls after close throw ClosedError, a second close is a no-op", async () => {
    const f = fake();
    const c = Container.open(f.options());
    const dev = c.openDevice(f.bdf);
    const group = c.groups[0]!;
    const region = dev.region(0);
    const irq = dev.irq(v.VFIO_PCI_MSI_IRQ_INDEX);
    irq.enable();
    const buf = c.allocDma(4096);
    c.close();
    for (const o of [c, group, dev, region, irq, buf]) {
      expect(o.closed).toBe(true);
      o.close();
      o[Symbol.dispose]();
    }
    expect(() => c.openDevice(f.bdf)).toThrow(ClosedError);
    expect(() => c.checkExtension(1)).toThrow(ClosedError);
    expect(() => c.allocDma(4096)).toThrow(ClosedError);
    expect(() => c.iommuType).toThrow(ClosedError);
    expect(() => group.status()).toThrow(ClosedError);
    expect(() => group.openDevice(f.bdf)).toThrow(ClosedError);
    expect(() => dev.info).toThrow(ClosedError);
    expect(() => dev.regionInfo(0)).toThrow(ClosedError);
    expect(() => dev.irq(0)).toThrow(ClosedError);
    expect(() => dev.reset()).toThrow(ClosedError);
    expect(() => dev.pciConfig()).toThrow(ClosedError);
    expect(() => dev.fd).toThrow(ClosedError);
    expect(() => region.read32(0)).toThrow(ClosedError);
    expect(() => region.map()).toThrow(ClosedError);
    expect(() => irq.trigger()).toThrow(ClosedError);
    expect(() => irq.unmask()).toThrow(ClosedError);
    await expect(irq.wait()).rejects.toBeInstanceOf(ClosedError);
    expect(() => buf.iova).toThrow(ClosedError);
    expect(() => buf.bytes()).toThrow(ClosedError);
  });

  test("closing a device alone keeps its group and container usable", () => {
    const f = fake();
    using c = Container.open(f.options());
    const a = c.openDevice(f.bdf);
    a.close();
    expect(a.group?.devices).toEqual([]);
    const b = c.openDevice(f.bdf);
    expect(b.info.numIrqs).toBe(5);
  });
});
