// Lifetime of the VFIO objects with QEMU's edu device: a held group refuses a second
// process with EBUSY, use after close throws instead of crashing, and 100 open/close
// cycles leak no fds. Runs as root inside the kernel rig; fails outside it.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { basename } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ClosedError, SyscallError } from "../../src/sys/mod.ts";
import { Container, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from "../../src/vfio/mod.ts";
import { EDU, eduBdf, openFdCount } from "./edu_device.ts";

const MOD = fileURLToPath(new URL("../../src/vfio/mod.ts", import.meta.url));

/** Runs a second Bun process that tries to open the device; returns what it caught. */
function openFromAnotherProcess(bdf: string): { ok?: boolean; code?: string; message?: string; name?: string } {
  const code = `
    import { Container } from ${JSON.stringify(MOD)};
    try {
      const c = Container.open();
      c.openDevice(${JSON.stringify(bdf)});
      c.close();
      console.log(JSON.stringify({ ok: true }));
    } catch (e) {
      console.log(JSON.stringify({ code: e.code, message: e.message, name: e.name }));
    }`;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", timeout: 60_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`The second process printed no result (status ${r.status}): ${r.stdout} ${r.stderr}`);
  }
}

describe("edu VFIO lifetime", () => {
  test("a second process opening the held group fails with EBUSY naming the group", () => {
    const bdf = eduBdf();
    const groupId = Number(basename(readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`)));
    {
      using container = Container.open();
      container.openDevice(bdf);
      const r = openFromAnotherProcess(bdf);
      expect(r.name).toBe("SyscallError");
      expect(r.code).toBe("EBUSY");
      expect(r.message).toContain(`/dev/vfio/${groupId}`);
      expect(r.message).toContain(`another process holds VFIO group ${groupId}`);
    }
    expect(openFromAnotherProcess(bdf)).toEqual({ ok: true }); // released on close
  }, 120_000);

  test("a second container in the same process also gets EBUSY", () => {
    const bdf = eduBdf();
    using first = Container.open();
    first.openDevice(bdf);
    using second = Container.open();
    let err: unknown;
    try {
      second.openDevice(bdf);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe("EBUSY");
    expect((err as SyscallError).op).toBeUndefined();
    expect((err as SyscallError).syscall).toBe("open");
  });

  test("access after close throws ClosedError, stale views are detached, the process survives", () => {
    const bdf = eduBdf();
    const container = Container.open();
    const dev = container.openDevice(bdf);
    const bar0 = dev.region(VFIO_PCI_BAR0_REGION_INDEX);
    const regs = bar0.map();
    const view = regs.view(Uint32Array, 0, 16);
    expect(view[0]).toBe(EDU.ID_VALUE);
    const msi = dev.irq(VFIO_PCI_MSI_IRQ_INDEX);
    msi.enable();
    const buf = container.allocDma(4096);
    const bufView = buf.bytes();
    container.close();

    expect(() => regs.read32(EDU.ID)).toThrow(ClosedError);
    expect(() => regs.write32(EDU.LIVENESS, 1)).toThrow(ClosedError);
    expect(() => bar0.read32(EDU.ID)).toThrow(ClosedError);
    expect(() => bar0.map()).toThrow(ClosedError);
    expect(() => dev.region(VFIO_PCI_BAR0_REGION_INDEX)).toThrow(ClosedError);
    expect(() => dev.info).toThrow(/VFIO device .* is closed/);
    expect(() => msi.trigger()).toThrow(ClosedError);
    expect(() => buf.bytes()).toThrow(ClosedError);
    expect(() => container.openDevice(bdf)).toThrow(ClosedError);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(bufView.length).toBe(0);
    // Closing again is a no-op.
    container.close();
    dev.close();
    regs.close();
    buf.close();
  });

  test("closing a device keeps the container usable, and the device can be reopened", () => {
    const bdf = eduBdf();
    using container = Container.open();
    const a = container.openDevice(bdf);
    const regs = a.region(VFIO_PCI_BAR0_REGION_INDEX).map();
    a.close();
    expect(regs.closed).toBe(true);
    const b = container.openDevice(bdf);
    expect(b.region(VFIO_PCI_BAR0_REGION_INDEX).read32(EDU.ID)).toBe(EDU.ID_VALUE);
    expect(container.groups.length).toBe(1);
  });

  test("100 cycles of open, map, interrupt, DMA and close leak no fds", () => {
    const bdf = eduBdf();
    // One warm-up cycle so lazily created runtime fds are counted in the baseline.
    const cycle = (): void => {
      using container = Container.open();
      const dev = container.openDevice(bdf);
      const regs = dev.region(VFIO_PCI_BAR0_REGION_INDEX).map();
      if (regs.read32(EDU.ID) !== EDU.ID_VALUE) throw new Error("edu id mismatch");
      dev.irq(VFIO_PCI_MSI_IRQ_INDEX).enable();
      const buf = container.allocDma(4096, { addressBits: 28 });
      buf.bytes()[0] = 1;
    };
    cycle();
    const before = openFdCount();
    for (let i = 0; i < 100; i++) cycle();
    expect(openFdCount()).toBe(before);
  }, 300_000);
});
