// Interrupts from QEMU's edu device delivered to eventfds through VFIO_DEVICE_SET_IRQS and
// awaited with Irq.wait(). Runs as root inside the kernel rig; fails outside it.
import { describe, expect, test } from "bun:test";
import { Container, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from "../../src/vfio/mod.ts";
import { dmaDone, EDU, eduBdf, factorial32 } from "./edu_device.ts";

describe("edu interrupts", () => {
  test("MSI: a factorial with status bit 0x80 raises an interrupt that wait() receives", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    dev.pciConfig().setBusMaster(true); // MSI is a memory write by the device
    const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    const pending = msi.wait({ timeout: 10_000 });
    regs.write32(EDU.STATUS, EDU.STATUS_IRQ_FACT);
    regs.write32(EDU.FACTORIAL, 6);
    expect(await pending).toBeGreaterThanOrEqual(1);
    expect(regs.read32(EDU.FACTORIAL)).toBe(factorial32(6));
    const why = regs.read32(EDU.IRQ_STATUS);
    expect(why & EDU.FACT_IRQ).toBe(EDU.FACT_IRQ);
    regs.write32(EDU.IRQ_ACK, why);
    expect(regs.read32(EDU.IRQ_STATUS)).toBe(0);
    regs.write32(EDU.STATUS, 0);
  });

  test("MSI: a DMA with command bit 0x4 raises interrupt 0x100", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    dev.pciConfig().setBusMaster(true);
    const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    using buf = container.allocDma(4096, { addressBits: 28 });
    regs.write64(EDU.DMA_SRC, buf.iova);
    regs.write64(EDU.DMA_DST, EDU.DMA_BUFFER);
    regs.write64(EDU.DMA_COUNT, 64);
    regs.write64(EDU.DMA_CMD, EDU.DMA_CMD_START | EDU.DMA_CMD_IRQ);
    expect(await msi.wait({ timeout: 10_000 })).toBeGreaterThanOrEqual(1);
    await dmaDone(regs);
    const why = regs.read32(EDU.IRQ_STATUS);
    expect(why & EDU.DMA_IRQ).toBe(EDU.DMA_IRQ);
    regs.write32(EDU.IRQ_ACK, why);
  });

  test("INTx: the raise register interrupts, and unmask() lets the next one through", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    const intx = dev.irq(VFIO_PCI_INTX_IRQ_INDEX);
    expect(intx.info.automasked).toBe(true);
    intx.enable();
    for (const value of [0x1000, 0x2000]) {
      const pending = intx.wait({ timeout: 10_000 });
      regs.write32(EDU.IRQ_RAISE, value);
      expect(await pending).toBeGreaterThanOrEqual(1);
      expect(regs.read32(EDU.IRQ_STATUS) & value).toBe(value);
      regs.write32(EDU.IRQ_ACK, regs.read32(EDU.IRQ_STATUS)); // lower the line first
      intx.unmask(); // then let VFIO deliver the next one
    }
  });

  test("trigger() signals the eventfd through the kernel (loopback)", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    const pending = msi.wait({ timeout: 5000 });
    msi.trigger();
    expect(await pending).toBe(1);
  });

  test("wait() rejects with TimeoutError when nothing happens, and with the abort reason", async () => {
    const bdf = eduBdf();
    using container = Container.open();
    const dev = container.openDevice(bdf);
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    const t0 = performance.now();
    await expect(msi.wait({ timeout: 100 })).rejects.toMatchObject({ name: "TimeoutError" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop waiting")), 50);
    await expect(msi.wait({ signal: ac.signal })).rejects.toThrow("stop waiting");
  });

  test("closing the device while a wait is pending rejects it with a closed error", async () => {
    const bdf = eduBdf();
    const container = Container.open();
    const dev = container.openDevice(bdf);
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    const pending = msi.wait({ timeout: 10_000 });
    setTimeout(() => container.close(), 20);
    await expect(pending).rejects.toMatchObject({ code: "ERR_CLOSED" });
    expect(msi.closed).toBe(true);
  });
});
