// Bad input and misuse, one test per defect of the reliability review: each says what is
// promised, and each failed before its fix.
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { removeMdev, setPriority, setZone } from "../../src/mdev/mdev.ts";
import { containerOptionsFor, type DeviceOpener } from "../../src/queue/port.ts";
import { requestQueue } from "../../src/queue/request.ts";
import { NoAcceleratorError, select } from "../../src/select/select.ts";
import { SyscallError } from "../../src/sys/error.ts";
import { MappedMemory, memfdCreate } from "../../src/sys/mman.ts";
import { MFD_CLOEXEC } from "../../src/sys/mod.ts";
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { SysfsError } from "../../src/sysfs/errors.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { describeFlags, naturalCompare } from "../../src/sysfs/parse.ts";
import { locateDevice } from "../../src/vfio/locate.ts";
import { IovaAllocator } from "../../src/vfio/dma.ts";
import { ftruncate } from "../../src/sys/mman.ts";
import { thrown, typeDir, wdev } from "./_tree_paths.ts";

const WD = path.resolve(import.meta.dir, "..", "..", "bin", "wd.ts");
const UUID = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
const PAGE = 0x1000n;

function wd(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync([process.execPath, WD, ...args], {
    cwd: options.cwd,
    env: { ...process.env, WD_SYSFS_ROOT: "", WD_DEBUG: "", ...options.env },
    timeout: 10_000,
  });
  return { code: r.exitCode, signal: r.signalCode, out: r.stdout.toString(), err: r.stderr.toString() };
}



function outsideFile(content: string): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-outside-"));
  const file = path.join(dir, "precious");
  fs.writeFileSync(file, content);
  return { file, dir };
}

describe("1. writers never hang on a FIFO", () => {
  test("wd priority, create and remove refuse a FIFO in place of the attribute, in bounded time", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
    const fifos = [
      wdev(tree.root, "acc0", "priority"),
      path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create"),
      path.join(tree.root, "bus", "mdev", "devices", UUID, "remove"),
    ];
    for (const f of fifos) {
      fs.rmSync(f);
      Bun.spawnSync(["mkfifo", f]);
    }
    const runs = [
      wd(["priority", "acc0", "5", "--sysfs", tree.root]),
      wd(["create", "--device", "acc0", "--type", "wd_dummy-copy", "--sysfs", tree.root]),
      wd(["remove", UUID, "--sysfs", tree.root]),
    ];
    runs.forEach((r, i) => {
      expect(r.signal).toBeFalsy();
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n").length).toBe(1);
      expect(r.err).toContain(path.relative(path.join(tree.root, "devices", "warpdrive"), fifos[i]!).replace(/^\.\.\/\.\.\//, ""));
      expect(r.err).toContain("not a regular file");
    });
  });
});

describe("2. writes stay inside the sysfs root", () => {
  test("an attribute that is a link out of the tree is refused and the target is untouched", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    const out = outsideFile("precious data");
    try {
      for (const attr of ["priority", "zone_id"]) {
        fs.rmSync(wdev(tree.root, "acc0", attr));
        fs.symlinkSync(out.file, wdev(tree.root, "acc0", attr));
      }
      const e1 = thrown(() => setPriority("acc0", 5, { root: tree.root })) as SysfsError;
      const e2 = thrown(() => setZone("acc0", 5, { root: tree.root })) as SysfsError;
      for (const e of [e1, e2]) {
        expect(e).toBeInstanceOf(SysfsError);
        expect(e.message).toContain("symbolic link");
        expect(e.message).toContain(out.file);
      }
      expect(fs.readFileSync(out.file, "utf8")).toBe("precious data");
    } finally {
      fs.rmSync(out.dir, { recursive: true });
    }
  });

  test("a class entry or mdev bus entry linking outside the root is refused, naming where it resolves", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
    const out = outsideFile("precious data");
    try {
      fs.mkdirSync(path.join(out.dir, "wdev"));
      fs.symlinkSync(out.file, path.join(out.dir, "remove"));
      fs.writeFileSync(path.join(out.dir, "wdev", "priority"), "precious data");
      fs.mkdirSync(path.join(out.dir, "mdev_supported_types"));
      const classEntry = path.join(tree.root, "class", "warpdrive", "acc0");
      fs.rmSync(classEntry);
      fs.symlinkSync(out.dir, classEntry);
      const busEntry = path.join(tree.root, "bus", "mdev", "devices", UUID);
      fs.rmSync(busEntry);
      fs.symlinkSync(out.dir, busEntry);
      const e1 = thrown(() => setPriority("acc0", 5, { root: tree.root })) as SysfsError;
      expect(e1).toBeInstanceOf(SysfsError);
      expect(e1.message).toContain(`resolves to ${path.join(fs.realpathSync(out.dir), "wdev", "priority")}`);
      expect(e1.message).toContain("outside the sysfs root");
      fs.writeFileSync(path.join(out.dir, "remove.real"), "precious data");
      fs.rmSync(path.join(out.dir, "remove"));
      fs.renameSync(path.join(out.dir, "remove.real"), path.join(out.dir, "remove"));
      const e2 = thrown(() => removeMdev(UUID, { root: tree.root })) as SysfsError;
      expect(e2).toBeInstanceOf(SysfsError);
      expect(e2.message).toContain("outside the sysfs root");
      expect(fs.readFileSync(path.join(out.dir, "wdev", "priority"), "utf8")).toBe("precious data");
      expect(fs.readFileSync(path.join(out.dir, "remove"), "utf8")).toBe("precious data");
    } finally {
      fs.rmSync(out.dir, { recursive: true });
    }
  });

  test("links that stay inside the root, as on a real /sys, still work", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
    setPriority("acc0", 7, { root: tree.root });
    removeMdev(UUID, { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("7");
  });
});

describe("3. makeSysfs removes only what it made", () => {
  test("close() on a given directory leaves the files it did not create", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-given-"));
    try {
      fs.writeFileSync(path.join(dir, "keep.txt"), "mine");
      fs.mkdirSync(path.join(dir, "class", "other"), { recursive: true });
      fs.writeFileSync(path.join(dir, "class", "other", "keep"), "mine too");
      const tree = makeSysfs({ dir, devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
      expect(enumerate({ root: tree.root }).devices.length).toBe(1);
      tree.close();
      expect(fs.readFileSync(path.join(dir, "keep.txt"), "utf8")).toBe("mine");
      expect(fs.readFileSync(path.join(dir, "class", "other", "keep"), "utf8")).toBe("mine too");
      expect(fs.readdirSync(dir).sort()).toEqual(["class", "keep.txt"]);
      expect(fs.readdirSync(path.join(dir, "class"))).toEqual(["other"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("close() of a tree in its own temporary directory removes the directory", () => {
    const tree = makeSysfs({ devices: [{ id: "acc0" }] });
    tree.close();
    expect(fs.existsSync(tree.root)).toBe(false);
  });
});

describe("4. IovaAllocator.release refuses what is not allocated", () => {
  test("a double release after reuse throws and changes nothing, so no two buffers overlap", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xffffffn }], { alignment: PAGE });
    const x = a.allocate(2n * PAGE);
    a.release(x, 2n * PAGE);
    const c = a.allocate(PAGE);
    expect(c).toBe(x);
    const before = a.free;
    expect(() => a.release(x, 2n * PAGE)).toThrow(RangeError);
    expect(() => a.release(x + PAGE, PAGE)).toThrow(RangeError);
    expect(a.free).toEqual(before);
    const d = a.allocate(PAGE);
    expect(d === c).toBe(false);
    a.release(c, PAGE);
    expect(() => a.release(c, PAGE)).toThrow(/not allocated/);
  });
  test("IOVA 0, a wrong size, or a span never handed out are refused", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xffffffn }], { alignment: PAGE });
    const x = a.allocate(2n * PAGE);
    const before = a.free;
    expect(() => a.release(0n, PAGE)).toThrow(/not allocated/);
    expect(() => a.release(x, PAGE)).toThrow(RangeError);
    expect(() => a.release(0x100000n, PAGE)).toThrow(RangeError);
    expect(a.free).toEqual(before);
    a.reserve(0x200000n, PAGE);
    a.release(0x200000n, PAGE);
    a.release(x, 2n * PAGE);
    expect(a.free).toEqual([{ start: PAGE, end: 0xffffffn }]);
  });
});

describe("5. MappedMemory.mapFile refuses a mapping past end of file", () => {
  test("a memfd shorter than the mapping is a RangeError, not a later SIGBUS", () => {
    const fd = memfdCreate("short", MFD_CLOEXEC);
    try {
      ftruncate(fd, 4096);
      expect(() => MappedMemory.mapFile(fd, 0, 8192)).toThrow(RangeError);
      expect(() => MappedMemory.mapFile(fd, 4096, 4096)).toThrow(/past the end/);
      using m = MappedMemory.mapFile(fd, 0, 4096);
      expect(m.read32(4092)).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe("6. a closed stdout ends wd quietly", () => {
  test("wd list into a pipe whose reader is gone: no stack trace, the command's own exit status", () => {
    using tree = makeSysfs({
      // More than a pipe's 64 KiB of JSON, so the writer meets the closed pipe for sure.
      devices: Array.from({ length: 250 }, (_, i) => ({ id: `acc${i}`, types: [{ name: "copy" }] })),
    });
    const errFile = path.join(tree.root, "err.txt");
    const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(WD)} list --json --sysfs ${JSON.stringify(tree.root)} 2>${
      JSON.stringify(errFile)
    } | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const r = Bun.spawnSync(["bash", "-c", script], { timeout: 20_000 });
    expect(r.stdout.toString().trim()).toBe("0");
    expect(fs.readFileSync(errFile, "utf8")).toBe("");
  }, 20_000);
});

describe("7. an empty --sysfs is a usage error", () => {
  test('wd priority acc0 7 --sysfs "" exits 2 and writes nothing in the working directory', () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    const r = wd(["priority", "acc0", "7", "--sysfs", ""], { cwd: tree.root });
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toEqual(['wd: --sysfs "": the sysfs root must not be empty']);
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("0\n");
    const r2 = wd(["list", "--sysfs="], { cwd: tree.root });
    expect(r2.code).toBe(2);
  });
  test("an empty WD_SYSFS_ROOT still means unset", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    const r = wd(["list", "--sysfs", tree.root], { env: { WD_SYSFS_ROOT: "" } });
    expect(r.code).toBe(0);
    const r2 = wd(["list"], { cwd: tree.root, env: { WD_SYSFS_ROOT: "" } });
    expect(r2.err).toContain(path.join("/sys", "class", "warpdrive"));
  });
});

describe("8. every usage error is one line", () => {
  test("wd pick --alg --json prints one line and exits 2", () => {
    for (const args of [["pick", "--alg", "--json"], ["pick", "--alg", "-h"], ["list", "--sysfs", "--json"]]) {
      const r = wd(args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n").length).toBe(1);
      expect(r.err).toStartWith("wd: ");
    }
  });
});

describe("9. select checks the type of every criterion", () => {
  test("a non-string wdType or a non-boolean allowCreate is a TypeError", () => {
    const inv = enumerate({ root: "/nonexistent", reader: { readAttribute: () => "", list: () => [], kindOf: () => "dir", isDanglingLink: () => false } });
    expect(() => select(inv, { alg: "copy", wdType: 5 as unknown as string, apis: [] })).toThrow(TypeError);
    expect(() => select(inv, { alg: "copy", wdType: "", apis: [] })).toThrow(TypeError);
    expect(() => select(inv, { alg: "copy", allowCreate: "yes" as unknown as boolean, apis: [] })).toThrow(TypeError);
    expect(() => select(inv, { alg: "copy", apis: "wd_dummy_v1" as unknown as string[] })).toThrow(TypeError);
  });
});

describe("10. natural order compares digit runs exactly", () => {
  test("ids above 2^53 are ordered, and the choice does not depend on inventory order", () => {
    expect(naturalCompare("acc9007199254740992", "acc9007199254740993")).toBeLessThan(0);
    expect(naturalCompare("acc9007199254740993", "acc9007199254740992")).toBeGreaterThan(0);
    expect(naturalCompare("acc00012345678901234567890", "acc12345678901234567891")).toBeLessThan(0);
    expect(naturalCompare("a007", "a7")).toBeGreaterThan(0);
    using tree = makeSysfs({
      devices: [
        { id: "acc9007199254740993", types: [{ name: "copy", mdevs: [UUID] }] },
        { id: "acc9007199254740992", types: [{ name: "copy", mdevs: ["83b8f4f2-509f-382f-3c1e-e6bfe0fa1002"] }] },
      ],
    });
    const inv = enumerate({ root: tree.root });
    const a = select(inv, { alg: "copy", apis: ["wd_dummy_v1"] });
    const b = select({ ...inv, devices: [...inv.devices].reverse() }, { alg: "copy", apis: ["wd_dummy_v1"] });
    expect(a.device.id).toBe("acc9007199254740992");
    expect(b.device.id).toBe("acc9007199254740992");
  });
});

describe("11. a device name that is not UTF-8 is reported as such", () => {
  test("the problem says the name is not valid UTF-8 and shows its bytes", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const classDir = Buffer.from(path.join(tree.root, "class", "warpdrive") + "/");
    fs.mkdirSync(Buffer.concat([classDir, Buffer.from([0x61, 0x63, 0x63, 0xff])]));
    const inv = enumerate({ root: tree.root });
    const bad = inv.devices.find((d) => d.id !== "acc0")!;
    expect(bad.problems).toEqual(["the name is not valid UTF-8 (bytes 61 63 63 ff)"]);
    expect(inv.devices.find((d) => d.id === "acc0")!.problems).toEqual([]);
  });
});

describe("12. an iommu_group link's number is decimal digits only", () => {
  test('" ", 0x10, 1e3, -0 and +5 are refused with the link and its target', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "wd-group-"));
    try {
      const bus = path.join(root, "bus", "mdev", "devices");
      fs.mkdirSync(bus, { recursive: true });
      const names = [" ", "0x10", "1e3", "-0", "+5", "07", "", "12"];
      names.forEach((n, i) => {
        const uuid = `83b8f4f2-509f-382f-3c1e-e6bfe0fa10${String(i).padStart(2, "0")}`;
        fs.mkdirSync(path.join(bus, uuid));
        fs.symlinkSync(`../../../kernel/iommu_groups/${n}`, path.join(bus, uuid, "iommu_group"));
      });
      names.forEach((n, i) => {
        const uuid = `83b8f4f2-509f-382f-3c1e-e6bfe0fa10${String(i).padStart(2, "0")}`;
        if (n === "12") {
          expect(locateDevice(uuid, root).groupId).toBe(12);
          return;
        }
        const e = thrown(() => locateDevice(uuid, root)) as Error & { code?: string };
        expect(e.message).toContain("does not end in a decimal group number");
        expect(e.code).toBe("EINVAL");
      });
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });
});

describe("14. errors keep their cause and have a class", () => {
  test("requestQueue keeps the open failures as the cause of NoAcceleratorError", async () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
    const opener: DeviceOpener = () => {
      throw new SyscallError(13, { syscall: "open", path: "/dev/vfio/7" });
    };
    let err: unknown;
    try {
      await requestQueue({ alg: "copy", root: tree.root, opener, apis: ["wd_dummy_v1"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoAcceleratorError);
    const cause = (err as Error).cause as SyscallError;
    expect(cause).toBeInstanceOf(SyscallError);
    expect(cause.code).toBe("EACCES");
  });
  test("SysfsError carries errno and syscall when a system call failed", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", priority: null, types: [] }] });
    const e = thrown(() => setPriority("acc0", 1, { root: tree.root })) as SysfsError;
    expect(e.code).toBe("ENOENT");
    expect(e.errno).toBe(2);
    expect(e.syscall).toBe("lstat");
    expect(e.cause).toBeDefined();
  });
  test("no error in the sources is a plain Error with a code pasted on", () => {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, d.name);
        if (d.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && /Object\.assign\(\s*new Error/.test(fs.readFileSync(p, "utf8"))) found.push(p);
      }
    };
    walk(path.resolve(import.meta.dir, "..", "..", "src"));
    expect(found).toEqual([]);
  });
});

describe("15. one zone rule for reading and writing", () => {
  test("a negative zone (-1: no NUMA node) is written as it is read", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", zoneId: -1, types: [] }, { id: "acc1", zoneId: "2147483648", types: [] }] });
    const inv = enumerate({ root: tree.root });
    expect(inv.devices[0]!.zoneId).toBe(-1);
    expect(inv.devices[1]!.problems).toEqual(["wdev/zone_id: 2147483648 is outside [-2147483648, 2147483647]"]);
    setZone("acc0", -1, { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "zone_id"), "utf8")).toBe("-1");
    expect(() => setZone("acc0", 2147483648, { root: tree.root })).toThrow(RangeError);
    expect(() => setZone("acc0", -2147483649, { root: tree.root })).toThrow(RangeError);
    const r = wd(["zone", "acc0", "-2", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(wdev(tree.root, "acc0", "zone_id"), "utf8")).toBe("-2");
  });
});


describe("spec conformance: wdev/iommu", () => {
  const tree3 = () =>
    makeSysfs({
      devices: [
        { id: "acc0", iommu: 1, types: [{ name: "copy", mdevs: [UUID] }] },
        { id: "acc1", iommu: 8, types: [{ name: "copy", mdevs: ["83b8f4f2-509f-382f-3c1e-e6bfe0fa1002"] }] },
        { id: "acc2", iommu: 3, priority: 5, types: [{ name: "copy", mdevs: ["83b8f4f2-509f-382f-3c1e-e6bfe0fa1003"] }] },
      ],
    });
  test("a device declaring a type the kernel does not offer is rejected with a reason", () => {
    using tree = tree3();
    const inv = enumerate({ root: tree.root });
    const s = select(inv, { alg: "copy", apis: ["wd_dummy_v1"], iommuTypes: [3, 8] });
    expect(s.device.id).toBe("acc2");
    const why = (id: string) => s.candidates.find((c) => c.device === id)!.reason;
    expect(why("acc0")).toBe("wdev/iommu declares VFIO_TYPE1_IOMMU, which the kernel does not offer (offered: VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU)");
    expect(why("acc1")).toBe("wdev/iommu declares VFIO_NOIOMMU_IOMMU (no DMA isolation); accepted only with allowNoIommu");
    expect(select(inv, { alg: "copy", apis: ["wd_dummy_v1"], iommuTypes: [1, 3, 8], allowNoIommu: true }).device.id).toBe("acc0");
    expect(select(inv, { alg: "copy", apis: ["wd_dummy_v1"], iommuTypes: [8], allowNoIommu: true }).device.id).toBe("acc1");
    expect(() => select(inv, { alg: "copy", iommuTypes: ["3"] as unknown as number[], apis: [] })).toThrow(TypeError);
    expect(() => select(inv, { alg: "copy", allowNoIommu: 1 as unknown as boolean, apis: [] })).toThrow(TypeError);
  });
  test("requestQueue opens each device with the IOMMU type it declares, NOIOMMU only when allowed", async () => {
    using tree = tree3();
    const seen: unknown[] = [];
    const opener: DeviceOpener = (uuid, o) => {
      seen.push({ uuid, iommuType: o.iommuType, allowNoIommu: o.allowNoIommu });
      throw new SyscallError(16, { syscall: "open", path: "/dev/vfio/1" });
    };
    await expect(requestQueue({ alg: "copy", root: tree.root, opener, apis: ["wd_dummy_v1"], iommuTypes: [1, 3] })).rejects.toThrow(NoAcceleratorError);
    expect(seen).toEqual([
      { uuid: UUID, iommuType: 1, allowNoIommu: false },
      { uuid: "83b8f4f2-509f-382f-3c1e-e6bfe0fa1003", iommuType: 3, allowNoIommu: false },
    ]);
    expect(containerOptionsFor({ root: "/s", devRoot: "/d", iommuType: 1 })).toEqual({ sysfsRoot: "/s", devRoot: "/d", allowNoIommu: false, iommuTypes: [1] });
    expect(containerOptionsFor({ root: "/s", devRoot: "/d", iommuType: 8, allowNoIommu: true }).iommuTypes).toEqual([8]);
  });
  test("wd pick takes a NOIOMMU device only with --allow-noiommu", () => {
    using tree = makeSysfs({ devices: [{ id: "acc1", iommu: 8, types: [{ name: "copy", mdevs: [UUID] }] }] });
    const args = ["pick", "--alg", "copy", "--api", "wd_dummy_v1", "--sysfs", tree.root];
    const refused = wd(args);
    expect(refused.code).toBe(1);
    expect(wd([...args, "--explain"]).err).toContain("VFIO_NOIOMMU_IOMMU (no DMA isolation)");
    const taken = wd([...args, "--allow-noiommu"]);
    expect([taken.code, taken.out.trim()]).toEqual([0, `acc1/wd_dummy-copy  mdev ${UUID}`]);
  });
});

describe("spec conformance: wd list decodes flags", () => {
  test("the framework's low 8 bits by name, the algorithm's in hex", () => {
    expect(describeFlags(0)).toBe("-");
    expect(describeFlags(0x3)).toBe("SHARE_ALL|SGL_MEM");
    expect(describeFlags(0x2)).toBe("SGL_MEM");
    expect(describeFlags(0x10104)).toBe("fw:0x4|alg:0x10100");
    expect(describeFlags(0xffffffff)).toBe("SHARE_ALL|SGL_MEM|fw:0xfc|alg:0xffffff00");
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", flags: 0x101 }, { name: "csum", flags: "zz" }] }] });
    const r = wd(["list", "--sysfs", tree.root]);
    expect(r.out).toMatch(/CAPS\n/);
    expect(r.out).toMatch(/wd_dummy-copy .* SHARE_ALL\|alg:0x100\n/);
    expect(r.out).toMatch(/wd_dummy-csum .* \?\n/);
  });
});
