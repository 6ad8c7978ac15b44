import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { classDirOf, enumerate } from "../../src/sysfs/enumerate.ts";
import { check } from "./_fc.ts";
import { SysfsError } from "../../src/sysfs/errors.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import type { Accelerator, AcceleratorType } from "../../src/sysfs/model.ts";
import { nodeReader, type SysfsReader } from "../../src/sysfs/reader.ts";

const UUID_A = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
const UUID_B = "0f0e0d0c-0b0a-4908-8706-050403020100";

function dev(devs: readonly Accelerator[], id: string): Accelerator {
  const d = devs.find((x) => x.id === id);
  if (!d) throw new Error(`no device ${id}`);
  return d;
}
function type(d: Accelerator, dir: string): AcceleratorType {
  const t = d.types.find((x) => x.type === dir);
  if (!t) throw new Error(`no type ${dir}`);
  return t;
}

describe("enumerate reads the tree as DECISIONS.md describes", () => {
  test("reads every device and type attribute into plain data", () => {
    using tree = makeSysfs({
      devices: [{
        id: "acc0",
        zoneId: 2,
        priority: -5,
        iommu: 3,
        types: [{ name: "copy", wdType: "dummy", flags: 0x103, latency: 7, throughput: 30, availableInstances: 2, mdevs: [UUID_B, UUID_A] }],
      }],
    });
    const inv = enumerate({ root: tree.root });
    expect(inv.classDir).toBe(path.join(tree.root, "class", "warpdrive"));
    expect(inv.devices.length).toBe(1);
    const d = dev(inv.devices, "acc0");
    expect([d.zoneId, d.priority, d.iommu, d.enabled, d.problems]).toEqual([2, -5, 3, true, []]);
    const t = type(d, "wd_dummy-copy");
    expect(t).toMatchObject({
      name: "copy",
      wdType: "dummy",
      flags: 0x103,
      latency: 7,
      throughput: 30,
      availableInstances: 2,
      deviceApi: "wd_dummy_v1",
      problems: [],
      partial: false,
    });
    expect(t.mdevs).toEqual([UUID_B, UUID_A].sort());
  });

  test("values are trimmed and flags are read with or without 0x", () => {
    using tree = makeSysfs({
      devices: [{
        id: "acc0",
        priority: "  3 \n",
        types: [{ dir: "d-a", name: " copy\n", flags: "ff\n" }, { dir: "d-b", name: "copy", flags: "0x10" }],
      }],
    });
    const d = dev(enumerate({ root: tree.root }).devices, "acc0");
    expect(d.priority).toBe(3);
    expect(type(d, "d-a").name).toBe("copy");
    expect(type(d, "d-a").flags).toBe(0xff);
    expect(type(d, "d-b").flags).toBe(0x10);
  });

  test("fallback names node_id and iommu_type are read when zone_id and iommu are missing", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", zoneId: null, iommu: null, types: [{ name: "copy" }] }] });
    const wdev = path.join(tree.root, "devices", "warpdrive", "acc0", "wdev");
    fs.writeFileSync(path.join(wdev, "node_id"), "4\n");
    fs.writeFileSync(path.join(wdev, "iommu_type"), "1\n");
    const d = dev(enumerate({ root: tree.root }).devices, "acc0");
    expect([d.zoneId, d.iommu, d.problems]).toEqual([4, 1, []]);
  });

  test("a missing zone_id with no fallback is a problem naming both files", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", zoneId: null, types: [{ name: "copy" }] }] });
    const d = dev(enumerate({ root: tree.root }).devices, "acc0");
    expect(d.enabled).toBe(false);
    expect(d.problems).toEqual(["wdev/zone_id (or wdev/node_id): missing"]);
  });

  test("devices come in natural order of id", () => {
    using tree = makeSysfs({ devices: ["acc10", "acc2", "acc1"].map((id) => ({ id, types: [{ name: "copy" }] })) });
    expect(enumerate({ root: tree.root }).devices.map((d) => d.id)).toEqual(["acc1", "acc2", "acc10"]);
  });

  test("a priority outside [-100, 99] disables the device without calling it a problem", () => {
    using tree = makeSysfs({
      devices: [
        { id: "lo", priority: -101, types: [{ name: "copy" }] },
        { id: "hi", priority: 100, types: [{ name: "copy" }] },
        { id: "edge", priority: 99, types: [{ name: "copy" }] },
        { id: "edge2", priority: -100, types: [{ name: "copy" }] },
      ],
    });
    const inv = enumerate({ root: tree.root });
    expect(inv.devices.map((d) => [d.id, d.enabled, d.problems.length])).toEqual([
      ["edge", true, 0],
      ["edge2", true, 0],
      ["hi", false, 0],
      ["lo", false, 0],
    ]);
  });
});

describe("bad input is kept out of choice with a reason, never a crash", () => {
  test("non-numeric priority", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", priority: "high\n", types: [{ name: "copy" }] }, { id: "acc1", types: [{ name: "copy" }] }] });
    const inv = enumerate({ root: tree.root });
    const d = dev(inv.devices, "acc0");
    expect(d.enabled).toBe(false);
    expect(d.priority).toBeNull();
    expect(d.problems).toEqual(['wdev/priority: not a decimal integer: "high"']);
    expect(dev(inv.devices, "acc1").enabled).toBe(true);
  });

  test("flags that are not hex", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", flags: "0xzz" }] }] });
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.flags).toBeNull();
    expect(t.problems).toEqual(['flags: not a hex number: "0xzz"']);
  });

  test("missing name", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ dir: "wd_dummy-copy", name: null }] }] });
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.name).toBeNull();
    expect(t.problems).toContain("name: missing");
  });

  test("negative available_instances", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", availableInstances: -1 }] }] });
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.availableInstances).toBeNull();
    expect(t.problems).toEqual(["available_instances: -1 is negative"]);
  });

  test("latency out of [0, 99]", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", latency: 100 }] }] });
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.problems).toEqual(["latency: 100 is outside [0, 99]"]);
  });

  test("a dangling symlink in the class directory", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    fs.symlinkSync("../../devices/warpdrive/gone", path.join(tree.root, "class", "warpdrive", "acc9"));
    const inv = enumerate({ root: tree.root });
    expect(dev(inv.devices, "acc9").problems).toEqual(["dangling link"]);
    expect(dev(inv.devices, "acc0").enabled).toBe(true);
  });

  test("a dangling symlink as a type directory", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    fs.symlinkSync("nowhere", path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "x-bad"));
    const d = dev(enumerate({ root: tree.root }).devices, "acc0");
    expect(type(d, "x-bad").problems).toEqual(["dangling link"]);
    expect(type(d, "wd_dummy-copy").problems).toEqual([]);
  });

  test("an unreadable file", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const denied: SysfsReader = {
      ...nodeReader,
      readAttribute(p: string): string {
        if (p.endsWith(path.join("wdev", "priority"))) throw Object.assign(new Error("EACCES"), { code: "EACCES" });
        return nodeReader.readAttribute(p);
      },
    };
    const d = dev(enumerate({ root: tree.root, reader: denied }).devices, "acc0");
    expect(d.enabled).toBe(false);
    expect(d.problems).toEqual(["wdev/priority: not readable (permission denied)"]);
  });

  test("a 1 MB garbage file is refused without being read whole", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const file = path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "throughput");
    const garbage = new Uint8Array(1 << 20);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff;
    fs.writeFileSync(file, garbage);
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.throughput).toBeNull();
    expect(t.problems).toEqual(["throughput: larger than one page, not a sysfs attribute"]);
  });

  test("binary garbage of attribute size is refused by the parser", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", deviceApi: "\u0001\u0002\u00ff\u0000" }] }] });
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.deviceApi).toBeNull();
    expect(t.problems.length).toBe(1);
    expect(t.problems[0]).toStartWith("device_api: not a single printable word");
  });

  test("a type directory that is a file", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    fs.writeFileSync(path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-zip"), "x");
    const d = dev(enumerate({ root: tree.root }).devices, "acc0");
    expect(type(d, "wd_dummy-zip").problems).toEqual(["is a file, not a type directory"]);
    expect(type(d, "wd_dummy-copy").problems).toEqual([]);
  });

  test("an attribute that is a directory", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", latency: null }] }] });
    fs.mkdirSync(path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "latency"));
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.problems).toEqual(["latency: is a directory, not an attribute file"]);
  });

  test("a FIFO in place of an attribute does not hang the enumeration", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", wdType: null }] }] });
    const fifo = path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "wd_type");
    const r = Bun.spawnSync(["mkfifo", fifo]);
    expect(r.exitCode).toBe(0);
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.wdType).toBeNull();
    expect(t.problems).toEqual(["wd_type: empty"]);
  });

  test("a device without mdev_supported_types and a class entry that is a file", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    fs.rmSync(path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types"), { recursive: true });
    fs.writeFileSync(path.join(tree.root, "class", "warpdrive", "junk"), "");
    const inv = enumerate({ root: tree.root });
    expect(dev(inv.devices, "acc0").problems).toEqual(["mdev_supported_types/: missing"]);
    expect(dev(inv.devices, "junk").problems).toEqual(["is a file, not a device directory"]);
  });

  test("an entry of devices/ that is not a UUID", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID_A] }] }] });
    fs.writeFileSync(path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "devices", "junk"), "");
    const t = type(dev(enumerate({ root: tree.root }).devices, "acc0"), "wd_dummy-copy");
    expect(t.mdevs).toEqual([UUID_A]);
    expect(t.problems).toEqual(["devices/junk: not a mediated device UUID"]);
  });

  test("an empty class directory gives no devices", () => {
    using tree = makeSysfs({ devices: [] });
    const inv = enumerate({ root: tree.root });
    expect(inv.devices).toEqual([]);
  });

  test("a missing class directory is its own error naming the path", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "wd-empty-"));
    try {
      let err: unknown;
      try {
        enumerate({ root });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SysfsError);
      const e = err as SysfsError;
      expect(e.code).toBe("ENOENT");
      expect(e.path).toBe(path.join(root, "class", "warpdrive"));
      expect(e.message).toContain(path.join(root, "class", "warpdrive"));
      expect(e.message).toContain("--sysfs");
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("enumerate reads only what a question needs", () => {
  function counting(): { reader: SysfsReader; reads: string[] } {
    const reads: string[] = [];
    return {
      reads,
      reader: {
        ...nodeReader,
        readAttribute(p: string): string {
          reads.push(p);
          return nodeReader.readAttribute(p);
        },
      },
    };
  }

  test("types of other algorithms are read no further than name", () => {
    using tree = makeSysfs({
      devices: [
        { id: "acc0", types: [{ name: "copy" }, { name: "csum", flags: "0xzz" }] },
        { id: "acc1", types: [{ name: "csum" }] },
      ],
    });
    const { reader, reads } = counting();
    const inv = enumerate({ root: tree.root, alg: "copy", reader });
    const csum = type(dev(inv.devices, "acc0"), "wd_dummy-csum");
    expect(csum.partial).toBe(true);
    expect(csum.problems).toEqual([]);
    const csumReads = reads.filter((r) => r.includes("wd_dummy-csum"));
    expect(csumReads.map((r) => path.basename(r))).toEqual(["name", "name"]);
    // acc1 offers no copy: its wdev/ is not read either.
    expect(reads.filter((r) => r.includes(`${path.sep}acc1${path.sep}wdev`))).toEqual([]);
    expect(dev(inv.devices, "acc1").partial).toBe(true);
    // acc0's copy type and wdev were read in full.
    expect(reads.filter((r) => r.includes("wd_dummy-copy")).length).toBe(7);
    expect(reads.filter((r) => r.includes(`${path.sep}acc0${path.sep}wdev`)).length).toBe(3);
  });

  test("without an algorithm everything is read", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }, { name: "csum" }] }] });
    const { reader, reads } = counting();
    enumerate({ root: tree.root, reader });
    expect(reads.length).toBe(3 + 2 * 7);
  });
});

describe("classDirOf", () => {
  test("joins a root as path.join does, for any root", async () => {
    const seg = fc.constantFrom("", ".", "..", "sys", "a", "tmp", "x.y", "...");
    const root = fc.tuple(fc.boolean(), fc.array(seg, { maxLength: 6 }), fc.constantFrom("", "/", "//")).map(([abs, parts, end]) => `${abs ? "/" : ""}${parts.join("/")}${end}`);
    await check("classDirOf = path.join", fc.property(root, fc.constantFrom("warpdrive", "uacce") as fc.Arbitrary<"warpdrive" | "uacce">, (r, cls) => {
      expect(classDirOf(r, cls)).toBe(path.join(r, "class", cls));
    }), 2000);
  });
});

describe("nodeReader.readAttribute", () => {
  test("decodes UTF-8, shows bytes that are not UTF-8 as U+FFFD, reads one page and refuses more", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-reader-"));
    try {
      const file = (name: string, bytes: number[] | Uint8Array) => {
        fs.writeFileSync(path.join(dir, name), new Uint8Array(bytes));
        return path.join(dir, name);
      };
      expect(nodeReader.readAttribute(file("utf8", [...new TextEncoder().encode("zip-ü\n")]))).toBe("zip-ü\n");
      expect(nodeReader.readAttribute(file("bad", [0x61, 0xff, 0x62, 0x0a]))).toBe("a\uFFFDb\n");
      expect(nodeReader.readAttribute(file("empty", []))).toBe("");
      // A short attribute after a long one: nothing of the earlier read shows through.
      expect(nodeReader.readAttribute(file("page", new Uint8Array(4096).fill(0x78)))).toBe("x".repeat(4096));
      expect(nodeReader.readAttribute(file("short", [0x31]))).toBe("1");
      expect(() => nodeReader.readAttribute(file("big", new Uint8Array(4097).fill(0x78)))).toThrow(expect.objectContaining({ code: "EFBIG" }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
