// The TypeScript ABI definitions against the machine's real headers: a C probe
// (tests/unit/fixtures/abi_probe.c) is compiled against <linux/vfio.h>, <linux/pci_regs.h>
// and libc, and every size, offset, ioctl number and constant it prints must equal ours.
// Without a C compiler this test fails (it does not skip): the ABI would be unchecked.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { _IO, _IOC, _IOR, _IOW, _IOWR, IOCTL_LAYOUT } from "../../src/abi/ioctl.ts";
import { LIBC_CONSTANTS } from "../../src/abi/libc.ts";
import { PCI_CONSTANTS } from "../../src/abi/pci.ts";
import { VFIO_CONSTANTS, VFIO_IOCTLS, VFIO_STRUCTS } from "../../src/abi/mod.ts";

const PROBE = fileURLToPath(new URL("./fixtures/abi_probe.c", import.meta.url));

function findCompiler(): string {
  for (const cc of [process.env["CC"], "cc", "gcc", "clang"]) {
    if (!cc) continue;
    const r = spawnSync(cc, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return cc;
  }
  throw new Error(
    "No C compiler found (tried $CC, cc, gcc, clang): the VFIO ABI cannot be checked against <linux/vfio.h>. " +
      "Install one with its headers: apt-get install gcc linux-libc-dev",
  );
}

interface ProbeOutput {
  structs: Map<string, number>;
  fields: Map<string, [number, number]>;
  ioctls: Map<string, number>;
  constants: Map<string, number>;
}

let cached: ProbeOutput | undefined;

function probe(): ProbeOutput {
  if (cached) return cached;
  const cc = findCompiler();
  const dir = mkdtempSync(join(tmpdir(), "wd-abi-probe-"));
  try {
    const exe = join(dir, "probe");
    const build = spawnSync(cc, ["-std=c11", "-Wall", "-o", exe, PROBE], { encoding: "utf8" });
    if (build.status !== 0) {
      throw new Error(
        `The ABI probe does not compile with ${cc} (are linux-libc-dev's headers installed? apt-get install linux-libc-dev):\n${build.stderr}`,
      );
    }
    const run = spawnSync(exe, [], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`The ABI probe failed: ${run.stderr}`);
    const out: ProbeOutput = { structs: new Map(), fields: new Map(), ioctls: new Map(), constants: new Map() };
    for (const line of run.stdout.trim().split("\n")) {
      const [kind, name, a, b] = line.split(" ");
      if (kind === "S") out.structs.set(name!, Number(a));
      else if (kind === "F") out.fields.set(name!, [Number(a), Number(b)]);
      else if (kind === "I") out.ioctls.set(name!, Number(a));
      else if (kind === "C") out.constants.set(name!, Number(a));
    }
    cached = out;
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("ABI against the C headers", () => {
  test("every VFIO struct has the header's sizeof", () => {
    const p = probe();
    for (const s of VFIO_STRUCTS) expect([s.name, p.structs.get(s.name)]).toEqual([s.name, s.size]);
    expect(p.structs.size).toBe(VFIO_STRUCTS.length);
  });

  test("every VFIO struct member has the header's offset and size", () => {
    const p = probe();
    let n = 0;
    for (const s of VFIO_STRUCTS) {
      for (const [field, l] of Object.entries(s.fields)) {
        const key = `${s.name}.${field}`;
        expect([key, p.fields.get(key)]).toEqual([key, [l.offset, l.size]]);
        n++;
      }
    }
    expect(p.fields.size).toBe(n);
  });

  test("every VFIO ioctl number equals the header's", () => {
    const p = probe();
    for (const [name, value] of Object.entries(VFIO_IOCTLS)) expect([name, p.ioctls.get(name)]).toEqual([name, value]);
  });

  test("_IO, _IOR, _IOW, _IOWR and _IOC agree with <linux/ioctl.h> on this machine", () => {
    const p = probe();
    expect(p.ioctls.get("_IO(';',100)")).toBe(_IO(";", 100));
    expect(p.ioctls.get("_IOR('T',48,4)")).toBe(_IOR("T", 48, 4));
    expect(p.ioctls.get("_IOW('T',49,4)")).toBe(_IOW("T", 49, 4));
    expect(p.ioctls.get("_IOWR('d',0,16)")).toBe(_IOWR("d", 0, 16));
    expect(p.ioctls.get("_IOR('V',255,8191)")).toBe(_IOC(IOCTL_LAYOUT.read, "V", 255, 8191));
  });

  test("every VFIO, PCI and libc constant equals the header's", () => {
    const p = probe();
    const all = { ...VFIO_CONSTANTS, ...PCI_CONSTANTS, ...LIBC_CONSTANTS };
    for (const [name, value] of Object.entries(all)) {
      // A C int constant such as (1 << 31) is negative; the kernel uses it as a __u32.
      const c = p.constants.get(name);
      const asU32 = c !== undefined && c < 0 && c >= -(2 ** 31) ? c >>> 0 : c;
      expect([name, asU32]).toEqual([name, value]);
    }
    expect(p.constants.size).toBe(Object.keys(all).length);
  });
});
