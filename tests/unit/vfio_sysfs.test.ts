// Finding a device and its IOMMU group in sysfs (a fake tree): PCI addresses, mediated
// device UUIDs, sysfs paths and { bus, name }; errors that say what is missing.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { devicePath, locateDevice } from "../../src/vfio/mod.ts";
import { viabilityAdvice } from "../../src/vfio/locate.ts";
import { FakeVfio } from "./fixtures/fake_vfio.ts";

const fake = new FakeVfio({ groupId: 7, bdf: "0000:00:02.0", groupPeers: [{ name: "0000:00:02.1", driver: "snd_hda_intel" }, { name: "0000:00:02.2" }] });
const UUID = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
// A mediated device: /sys/bus/mdev/devices/<uuid> → its directory with an iommu_group link.
const mdevDir = join(fake.sysfsRoot, "devices", "pci0000:00", "0000:00:02.0", UUID);
mkdirSync(mdevDir, { recursive: true });
mkdirSync(join(fake.sysfsRoot, "kernel", "iommu_groups", "31"), { recursive: true });
symlinkSync(join(fake.sysfsRoot, "kernel", "iommu_groups", "31"), join(mdevDir, "iommu_group"));
mkdirSync(join(fake.sysfsRoot, "bus", "mdev", "devices"), { recursive: true });
symlinkSync(mdevDir, join(fake.sysfsRoot, "bus", "mdev", "devices", UUID));

afterAll(() => fake.remove());

describe("devicePath", () => {
  test("a full or short PCI address means /sys/bus/pci/devices/<address>", () => {
    expect(devicePath("0000:00:02.0", "/sys")).toEqual({ name: "0000:00:02.0", sysfsPath: "/sys/bus/pci/devices/0000:00:02.0" });
    expect(devicePath("00:02.0", "/sys").name).toBe("0000:00:02.0");
    expect(devicePath("0000:AB:1F.7", "/sys").name).toBe("0000:ab:1f.7");
  });

  test("a UUID means a mediated device under /sys/bus/mdev/devices", () => {
    expect(devicePath(UUID.toUpperCase(), "/sys")).toEqual({ name: UUID, sysfsPath: `/sys/bus/mdev/devices/${UUID}` });
  });

  test("{ bus, name } and absolute paths are taken as given", () => {
    expect(devicePath({ bus: "platform", name: "fff51000.ethernet" }, "/x").sysfsPath).toBe("/x/bus/platform/devices/fff51000.ethernet");
    expect(devicePath(join(fake.sysfsRoot, "bus", "mdev", "devices", UUID), "/sys").name).toBe(UUID);
  });

  test("anything else is a TypeError that lists the accepted forms", () => {
    expect(() => devicePath("eth0", "/sys")).toThrow(/PCI address \(0000:00:03\.0\), a mediated device UUID, a sysfs path, or \{ bus, name \}/);
    expect(() => devicePath({ bus: "pci", name: "../x" }, "/sys")).toThrow(TypeError);
  });
});

describe("locateDevice", () => {
  test("reads the IOMMU group of a PCI device and of a mediated device", () => {
    expect(locateDevice("0000:00:02.0", fake.sysfsRoot).groupId).toBe(7);
    expect(locateDevice(UUID, fake.sysfsRoot)).toMatchObject({ name: UUID, groupId: 31 });
    expect(locateDevice({ path: mdevDir }, fake.sysfsRoot).groupId).toBe(31);
  });

  test("a missing device says so; a device without a group says to enable the IOMMU", () => {
    expect(() => locateDevice("0000:09:00.0", fake.sysfsRoot)).toThrow(/does not exist: check the address/);
    const lonely = join(fake.sysfsRoot, "devices", "lonely");
    mkdirSync(lonely, { recursive: true });
    let err: unknown;
    try {
      locateDevice({ path: lonely }, fake.sysfsRoot);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toContain("has no IOMMU group");
    expect((err as Error).message).toContain("intel_iommu=on");
    expect((err as { code?: string }).code).toBe("ENOENT");
  });
});

describe("viabilityAdvice", () => {
  test("names the devices of the group bound to host drivers and how to rebind them", () => {
    const advice = viabilityAdvice(7, fake.sysfsRoot);
    expect(advice).toContain("0000:00:02.1 (bound to snd_hda_intel)");
    expect(advice).not.toContain("0000:00:02.2 (bound");
    expect(advice).toContain("echo 0000:00:02.1 > /sys/bus/pci/devices/0000:00:02.1/driver/unbind");
    expect(advice).toContain("driver_override");
  });
});
