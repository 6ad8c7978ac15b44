// The kernel rig's own promises: what every test in tests/kernel may rely on inside the
// guest booted by scripts/rig.sh. Outside the rig every test here fails with a message
// saying how to run them (never a skip: a kernel tier that silently passes proves nothing).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import process from "node:process";

const OUTSIDE =
  "tests/kernel runs only inside the kernel rig (WD_RIG=1 is not set): use `npm run test:kernel` or `bash scripts/rig.sh test`";

/** Returns a variable of the rig's environment, failing clearly outside the rig. */
function rigEnv(name: string): string {
  if (process.env["WD_RIG"] !== "1") throw new Error(OUTSIDE);
  return process.env[name] ?? "";
}

/** The edu PCI address the rig bound to vfio-pci, as a sysfs device directory. */
function eduDir(): string {
  const bdf = rigEnv("WD_EDU_BDF");
  expect(bdf).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
  return `/sys/bus/pci/devices/${bdf}`;
}

function loadedModules(): Set<string> {
  const lines = readFileSync("/proc/modules", "utf8").split("\n");
  return new Set(lines.map((l) => l.split(" ")[0] ?? "").filter((n) => n !== ""));
}

describe("kernel rig", () => {
  test("tests run inside the rig (WD_RIG=1)", () => {
    expect(rigEnv("WD_RIG")).toBe("1");
  });

  test("tests run as root", () => {
    rigEnv("WD_RIG");
    expect(process.getuid?.()).toBe(0);
  });

  test("/dev/vfio/vfio exists as a character device", () => {
    rigEnv("WD_RIG");
    expect(statSync("/dev/vfio/vfio").isCharacterDevice()).toBe(true);
  });

  test("WD_EDU_BDF names QEMU's edu device (1234:11e8)", () => {
    const dir = eduDir();
    expect(readFileSync(`${dir}/vendor`, "utf8").trim()).toBe("0x1234");
    expect(readFileSync(`${dir}/device`, "utf8").trim()).toBe("0x11e8");
  });

  test("edu is bound to vfio-pci", () => {
    expect(basename(readlinkSync(`${eduDir()}/driver`))).toBe("vfio-pci");
  });

  test("edu has an IOMMU group whose /dev/vfio/<n> node exists", () => {
    const group = basename(readlinkSync(`${eduDir()}/iommu_group`));
    expect(group).toMatch(/^[0-9]+$/);
    expect(statSync(`/dev/vfio/${group}`).isCharacterDevice()).toBe(true);
  });

  test("vfio_iommu_type1 and mdev kernel modules are loaded", () => {
    rigEnv("WD_RIG");
    const mods = loadedModules();
    expect(mods.has("vfio_iommu_type1")).toBe(true);
    expect(mods.has("mdev")).toBe(true);
  });

  test("WD_KMOD_KO is empty or a built .ko whose module is loaded", () => {
    const ko = rigEnv("WD_KMOD_KO");
    if (ko === "") return;
    expect(ko).toEndWith(".ko");
    expect(existsSync(ko)).toBe(true);
    const name = basename(ko, ".ko").replaceAll("-", "_");
    if (!loadedModules().has(name)) {
      throw new Error(
        `Module "${name}" is not loaded: the rig loads it at boot, so an earlier test unloaded it and did not load it again`,
      );
    }
  });

  test("/tmp and HOME are writable, the repository is read-only", () => {
    for (const dir of ["/tmp", rigEnv("HOME")]) {
      const probe = `${dir}/.rig-probe-${process.pid}`;
      writeFileSync(probe, "x");
      expect(readFileSync(probe, "utf8")).toBe("x");
      unlinkSync(probe);
    }
    expect(() => writeFileSync(`.rig-probe-${process.pid}`, "x")).toThrow(/EROFS|read-only/);
  });
});
