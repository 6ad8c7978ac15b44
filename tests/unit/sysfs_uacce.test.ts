import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { SysfsError } from "../../src/sysfs/errors.ts";
import { type FixtureUacceDevice, makeSysfs } from "../../src/sysfs/fixture.ts";
import type { Accelerator } from "../../src/sysfs/model.ts";
import { nodeReader, type SysfsReader } from "../../src/sysfs/reader.ts";
import { thrown } from "./_tree_paths.ts";

function one(spec: FixtureUacceDevice, reader?: SysfsReader): Accelerator {
  using tree = makeSysfs({ uacce: [spec] });
  const inv = enumerate(reader === undefined ? { root: tree.root } : { root: tree.root, reader });
  expect(inv.devices.length).toBe(1);
  return inv.devices[0] as Accelerator;
}

/** A reader that fails reading the attribute files whose names end as given, with the errno given. */
function failing(fail: Readonly<Record<string, string>>): SysfsReader {
  return {
    ...nodeReader,
    readAttribute(p: string): string {
      for (const [end, code] of Object.entries(fail)) {
        if (p.endsWith(`/${end}`)) throw Object.assign(new Error(`${code}: ${p}`), { code });
      }
      return nodeReader.readAttribute(p);
    },
  };
}

describe("enumerate reads /sys/class/uacce", () => {
  test("the 6.1 layout: every attribute, one type per algorithm, no isolation attributes", () => {
    using tree = makeSysfs({
      uacce: [{ id: "hisi_zip-0", api: "hisi_qm_v2", algorithms: ["zlib", "gzip"], flags: 0, availableInstances: 7, regionMmioSize: 16384, regionDusSize: 8192, numaNode: 1 }],
    });
    const inv = enumerate({ root: tree.root });
    const entry = path.join(tree.root, "class", "uacce", "hisi_zip-0");
    expect(inv.devices).toEqual([{
      class: "uacce",
      id: "hisi_zip-0",
      path: entry,
      zoneId: 1,
      priority: null,
      iommu: null,
      enabled: true,
      problems: [],
      partial: false,
      uacce: {
        api: "hisi_qm_v2",
        algorithms: ["zlib", "gzip"],
        flags: 0,
        sva: false,
        availableInstances: 7,
        regionMmioSize: 16384,
        regionDusSize: 8192,
        isolate: null,
        isolateStrategy: null,
        numaNode: 1,
        devName: "hisi_zip-0",
      },
      types: ["zlib", "gzip"].map((alg) => ({
        type: alg,
        path: entry,
        name: alg,
        wdType: null,
        latency: null,
        throughput: null,
        flags: 0,
        availableInstances: 7,
        deviceApi: "hisi_qm_v2",
        mdevs: [],
        problems: [],
        partial: false,
      })),
    }]);
  });

  test("the 6.2 layout adds isolate and isolate_strategy; an isolated device is not enabled and not a problem", () => {
    const normal = one({ id: "x-0", layout: "6.2", isolateStrategy: 5 });
    expect([normal.uacce?.isolate, normal.uacce?.isolateStrategy, normal.enabled]).toEqual([0, 5, true]);
    const isolated = one({ id: "x-0", layout: "6.2", isolate: 1 });
    expect([isolated.uacce?.isolate, isolated.enabled, isolated.problems]).toEqual([1, false, []]);
  });

  test("flags are the kernel's decimal %u; bit 0 is SVA", () => {
    expect([one({ id: "x-0", flags: 1 }).uacce?.sva, one({ id: "x-0", flags: 1 }).uacce?.flags]).toEqual([true, 1]);
    expect(one({ id: "x-0", flags: 4294967294 }).uacce).toMatchObject({ flags: 4294967294, sva: false });
    expect(one({ id: "x-0", flags: "0x1" }).problems).toEqual(['flags: not a decimal integer: "0x1"']);
    expect(one({ id: "x-0", flags: 4294967296 }).problems).toEqual(["flags: 4294967296 is outside [0, 4294967295]"]);
  });

  test("a NUMA node of -1 or a parent without numa_node is none; values are trimmed", () => {
    expect(one({ id: "x-0", numaNode: -1 }).zoneId).toBe(null);
    expect(one({ id: "x-0", numaNode: null }).zoneId).toBe(null);
    expect(one({ id: "x-0", numaNode: " 3\n" }).uacce?.numaNode).toBe(3);
    expect(one({ id: "x-0", numaNode: -2 }).problems).toEqual(["device/numa_node: -2 is outside [-1, 2147483647]"]);
  });

  test("region sizes are hidden when 0: a missing file is null, not a problem", () => {
    const d = one({ id: "x-0", regionMmioSize: null, regionDusSize: null });
    expect([d.uacce?.regionMmioSize, d.uacce?.regionDusSize, d.problems, d.enabled]).toEqual([null, null, [], true]);
    expect(one({ id: "x-0", regionDusSize: "-4096" }).problems).toEqual(["region_dus_size: -4096 is outside [0, 9007199254740991]"]);
  });

  test("available_instances: a driver without the operation (read fails with ENODEV, or a negative number) reads as not reported", () => {
    const noOp = one({ id: "x-0" }, failing({ available_instances: "ENODEV" }));
    expect([noOp.uacce?.availableInstances, noOp.problems, noOp.enabled]).toEqual([null, [], true]);
    const negative = one({ id: "x-0", availableInstances: -19 });
    expect([negative.uacce?.availableInstances, negative.types[0]?.availableInstances, negative.problems]).toEqual([null, null, []]);
    expect(one({ id: "x-0", availableInstances: "busy" }).problems).toEqual(['available_instances: not a decimal integer: "busy"']);
    expect(one({ id: "x-0", availableInstances: null }).problems).toEqual([]);
    expect(one({ id: "x-0" }, failing({ available_instances: "EIO" })).problems).toEqual(["available_instances: cannot be read (EIO)"]);
  });

  test("isolate and isolate_strategy refused with ENODEV (no driver operation) read as not shown", () => {
    const d = one({ id: "x-0", layout: "6.2" }, failing({ isolate: "ENODEV", isolate_strategy: "ENODEV" }));
    expect([d.uacce?.isolate, d.uacce?.isolateStrategy, d.problems]).toEqual([null, null, []]);
    expect(one({ id: "x-0", layout: "6.2", isolate: 2 }).problems).toEqual(["isolate: 2 is outside [0, 1]"]);
  });

  test("a bad value excludes that one device with a readable reason", () => {
    using tree = makeSysfs({
      uacce: [
        { id: "a-0", api: "two words" },
        { id: "a-1", algorithms: "" },
        { id: "a-2", api: null },
        { id: "a-3", algorithms: ["copy", "bad\tname"] },
        { id: "a-4" },
      ],
    });
    const inv = enumerate({ root: tree.root });
    expect(inv.devices.map((d) => [d.id, d.enabled, d.problems])).toEqual([
      ["a-0", false, ['api: not a single printable word: "two words"']],
      ["a-1", false, ["algorithms: empty (no algorithm listed)"]],
      ["a-2", false, ["api: missing"]],
      ["a-3", false, ['algorithms: line "bad\\tname": not a single printable word: "bad\\tname"']],
      ["a-4", true, []],
    ]);
  });

  test("a dangling class entry and an entry that is a file are kept with their reason", () => {
    using tree = makeSysfs({ uacce: [{ id: "a-0" }] });
    const classDir = path.join(tree.root, "class", "uacce");
    fs.symlinkSync(path.join(tree.root, "nowhere"), path.join(classDir, "a-1"));
    fs.writeFileSync(path.join(classDir, "a-2"), "");
    const inv = enumerate({ root: tree.root });
    expect(inv.devices.map((d) => [d.id, d.problems])).toEqual([["a-0", []], ["a-1", ["dangling link"]], ["a-2", ["is a file, not a device directory"]]]);
  });

  test("narrowed to an algorithm, a device that does not list it reads only algorithms", () => {
    using tree = makeSysfs({ uacce: [{ id: "a-0", algorithms: ["crc32"] }, { id: "a-1", algorithms: ["copy", "crc32"] }] });
    const reads: string[] = [];
    const reader: SysfsReader = { ...nodeReader, readAttribute: (p) => (reads.push(path.relative(tree.root, p)), nodeReader.readAttribute(p)) };
    const inv = enumerate({ root: tree.root, alg: "copy", reader });
    expect(reads.filter((r) => r.includes("a-0"))).toEqual([path.join("class", "uacce", "a-0", "algorithms")]);
    expect(inv.devices.map((d) => [d.id, d.partial, d.types.map((t) => [t.name, t.partial])])).toEqual([
      ["a-0", true, [["crc32", true]]],
      ["a-1", false, [["copy", false], ["crc32", false]]],
    ]);
  });
});

describe("enumerate over both classes", () => {
  test("WarpDrive devices first, then UACCE, each in natural order; classDirs says where each was read", () => {
    using tree = makeSysfs({ devices: [{ id: "acc10" }, { id: "acc2" }], uacce: [{ id: "z-10" }, { id: "z-2" }] });
    const inv = enumerate({ root: tree.root });
    expect(inv.devices.map((d) => `${d.class}:${d.id}`)).toEqual(["warpdrive:acc2", "warpdrive:acc10", "uacce:z-2", "uacce:z-10"]);
    expect(inv.classDir).toBe(path.join(tree.root, "class", "warpdrive"));
    expect(inv.classDirs).toEqual([
      { class: "warpdrive", path: path.join(tree.root, "class", "warpdrive"), present: true },
      { class: "uacce", path: path.join(tree.root, "class", "uacce"), present: true },
    ]);
  });

  test("classes narrows the reading to the classes asked for", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0" }], uacce: [{ id: "z-0" }] });
    expect(enumerate({ root: tree.root, classes: ["uacce"] }).devices.map((d) => d.id)).toEqual(["z-0"]);
    const wd = enumerate({ root: tree.root, classes: ["warpdrive"] });
    expect([wd.devices.map((d) => d.id), wd.classDirs.map((c) => c.class)]).toEqual([["acc0"], ["warpdrive"]]);
    expect(() => enumerate({ root: tree.root, classes: [] })).toThrow(TypeError);
    expect(() => enumerate({ root: tree.root, classes: ["vfio" as "uacce"] })).toThrow(/give a non-empty array of "warpdrive" and "uacce"/);
  });

  test("an absent class directory is not an error while another exists", () => {
    using onlyUacce = makeSysfs({ uacce: [{ id: "z-0" }] });
    const a = enumerate({ root: onlyUacce.root });
    expect([a.devices.map((d) => d.id), a.classDirs.map((c) => [c.class, c.present])]).toEqual([["z-0"], [["warpdrive", false], ["uacce", true]]]);
    using onlyWd = makeSysfs({ devices: [{ id: "acc0" }] });
    const b = enumerate({ root: onlyWd.root });
    expect(b.classDirs.map((c) => [c.class, c.present])).toEqual([["warpdrive", true], ["uacce", false]]);
  });

  test("when no class directory asked for exists, the error names them all", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "wd-none-"));
    try {
      const e = thrown(() => enumerate({ root })) as SysfsError;
      expect(e).toBeInstanceOf(SysfsError);
      expect([e.code, e.path, e.errno]).toEqual(["ENOENT", path.join(root, "class", "warpdrive"), 2]);
      expect(e.message).toContain(`${path.join(root, "class", "warpdrive")} or ${path.join(root, "class", "uacce")}`);
      using onlyWd = makeSysfs({ devices: [] });
      const u = thrown(() => enumerate({ root: onlyWd.root, classes: ["uacce"] })) as SysfsError;
      expect([u.code, u.path, u.message.includes("no UACCE driver is loaded")]).toEqual(["ENOENT", path.join(onlyWd.root, "class", "uacce"), true]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("a class directory that cannot be listed is an error naming it", () => {
    using tree = makeSysfs({ devices: [] });
    fs.writeFileSync(path.join(tree.root, "class", "uacce"), "");
    const e = thrown(() => enumerate({ root: tree.root })) as SysfsError;
    expect([e.code, e.path]).toEqual(["ENOTDIR", path.join(tree.root, "class", "uacce")]);
  });
});
