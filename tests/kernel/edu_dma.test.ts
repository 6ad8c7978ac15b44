// DMA through the IOMMU with QEMU's edu device: RAM → device → RAM through
// VFIO_IOMMU_MAP_DMA, IOVAs inside edu's 28-bit mask, bus mastering. Runs as root inside the
// kernel rig (scripts/rig.sh); fails outside it.
import { describe, expect, test } from "bun:test";
import { ioctl, MappedMemory, SyscallError } from "../../src/sys/mod.ts";
import {
  Container,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_PCI_BAR0_REGION_INDEX,
} from "../../src/vfio/mod.ts";
import { encodeDmaMap, encodeDmaUnmap } from "../../src/abi/mod.ts";
import { dmaDone, EDU, eduBdf } from "./edu_device.ts";

/** Transfers stay below 4096 bytes: QEMU 7.2's edu aborts on a full-buffer DMA. */
const LEN = 3000;

describe("edu DMA", () => {
  test("RAM → edu → RAM round trip through MAP_DMA moves the exact bytes", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    dev.pciConfig().setBusMaster(true);
    const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    using src = container.allocDma(4096, { addressBits: 28 });
    using dst = container.allocDma(4096, { addressBits: 28 });
    expect(src.iova + 4096n <= 1n << 28n).toBe(true);
    expect(dst.iova + 4096n <= 1n << 28n).toBe(true);
    expect(src.iova).not.toBe(dst.iova);

    const pattern = new Uint8Array(LEN);
    for (let i = 0; i < LEN; i++) pattern[i] = (i * 7 + 13) & 0xff;
    src.bytes().set(pattern);
    dst.bytes().fill(0);

    regs.write64(EDU.DMA_SRC, src.iova);
    regs.write64(EDU.DMA_DST, EDU.DMA_BUFFER);
    regs.write64(EDU.DMA_COUNT, LEN);
    regs.write64(EDU.DMA_CMD, EDU.DMA_CMD_START);
    await dmaDone(regs);

    regs.write64(EDU.DMA_SRC, EDU.DMA_BUFFER);
    regs.write64(EDU.DMA_DST, dst.iova);
    regs.write64(EDU.DMA_COUNT, LEN);
    regs.write64(EDU.DMA_CMD, EDU.DMA_CMD_START | EDU.DMA_CMD_TO_RAM);
    await dmaDone(regs);

    const got = dst.bytes(0, LEN);
    let mismatches = 0;
    for (let i = 0; i < LEN; i++) if (got[i] !== pattern[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(dst.bytes()[LEN]).toBe(0); // nothing past the count
  });

  test("DMA with a caller-chosen IOVA and caller-owned memory (mapDma)", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    dev.pciConfig().setBusMaster(true);
    const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    using mem = MappedMemory.anonymous(8192);
    using buf = container.mapDma(mem, { iova: 0x200000n, addressBits: 28 });
    expect(buf.iova).toBe(0x200000n);
    mem.bytes().fill(0x5a, 0, 256);
    regs.write64(EDU.DMA_SRC, buf.iova);
    regs.write64(EDU.DMA_DST, EDU.DMA_BUFFER);
    regs.write64(EDU.DMA_COUNT, 256);
    regs.write64(EDU.DMA_CMD, EDU.DMA_CMD_START);
    await dmaDone(regs);
    regs.write64(EDU.DMA_SRC, EDU.DMA_BUFFER);
    regs.write64(EDU.DMA_DST, buf.iova + 4096n);
    regs.write64(EDU.DMA_COUNT, 256);
    regs.write64(EDU.DMA_CMD, EDU.DMA_CMD_START | EDU.DMA_CMD_TO_RAM);
    await dmaDone(regs);
    expect(mem.copyOut(4096, 256).every((b) => b === 0x5a)).toBe(true);
    buf.close();
    expect(mem.closed).toBe(false); // caller-owned memory outlives the mapping
  });

  test("a fixed IOVA overlapping one of the container's own buffers is refused, naming the range", () => {
    const bdf = eduBdf();
    using container = Container.open();
    container.openDevice(bdf);
    using a = container.allocDma(4096, { addressBits: 28 });
    let err: unknown;
    try {
      container.allocDma(4096, { iova: a.iova });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError); // the allocator knows before the kernel is asked
    expect(String((err as Error).message)).toContain(`0x${a.iova.toString(16)}`);
  });

  test("the kernel's EEXIST: a fixed IOVA fails with advice, a chosen one moves on", () => {
    const bdf = eduBdf();
    using container = Container.open();
    container.openDevice(bdf);
    // A mapping made behind the layer's back, straight through the container fd.
    using foreign = MappedMemory.anonymous(4096);
    const first = container.iommuInfo!.iovaRanges![0]!.start;
    const taken = first < 0x1000n ? 0x1000n : first;
    const map = encodeDmaMap({ flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: foreign.address, iova: taken, size: 4096n });
    ioctl(container.fd, VFIO_IOMMU_MAP_DMA, map, { op: "VFIO_IOMMU_MAP_DMA" });
    let err: unknown;
    try {
      container.allocDma(4096, { iova: taken });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe("EEXIST");
    expect((err as SyscallError).op).toBe("VFIO_IOMMU_MAP_DMA");
    expect((err as Error).message).toContain("overlaps an existing mapping");
    using chosen = container.allocDma(4096, { addressBits: 28 });
    expect(chosen.iova).not.toBe(taken);
    ioctl(container.fd, VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ flags: 0, iova: taken, size: 4096n }), { op: "VFIO_IOMMU_UNMAP_DMA" });
  });

  test("closing a DMA buffer unmaps it (the IOVA can be mapped again) and detaches its views", () => {
    const bdf = eduBdf();
    using container = Container.open();
    container.openDevice(bdf);
    const a = container.allocDma(4096, { addressBits: 28 });
    const iova = a.iova;
    const view = a.bytes();
    a.close();
    expect(view.length).toBe(0);
    expect(() => a.iova).toThrow(/closed/);
    using b = container.allocDma(4096, { iova, addressBits: 28 });
    expect(b.iova).toBe(iova);
  });

  test("closing the container unmaps every DMA buffer", () => {
    const bdf = eduBdf();
    const container = Container.open();
    container.openDevice(bdf);
    const bufs = [container.allocDma(4096), container.allocDma(8192, { addressBits: 28 })];
    expect(container.dmaBuffers.length).toBe(2);
    container.close();
    expect(bufs.every((b) => b.closed)).toBe(true);
    expect(() => container.allocDma(4096)).toThrow(/closed/);
  });
});
