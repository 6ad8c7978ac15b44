import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { VERSION } from "../../src/version.ts";

const WD = path.resolve(import.meta.dir, "..", "..", "bin", "wd.ts");
const M1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";

function wd(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([process.execPath, WD, ...args], { env: { ...process.env, WD_SYSFS_ROOT: "", WD_DEBUG: "", ...env } });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const sample = () =>
  makeSysfs({
    devices: [
      { id: "acc0", zoneId: 0, priority: 0, types: [{ name: "copy", flags: 0x3, throughput: 20, mdevs: [M1] }, { name: "csum", flags: 0x1 }] },
      { id: "acc1", zoneId: 1, priority: -1, types: [{ name: "copy", flags: 0x1, throughput: 30 }] },
      { id: "acc2", priority: "x", types: [{ name: "copy" }] },
    ],
  });

describe("wd list", () => {
  test("prints a table with devices, types and problems", () => {
    using tree = sample();
    const r = wd(["list", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("acc0  zone 0  priority 0  iommu 3  enabled");
    expect(r.out).toMatch(/wd_dummy-copy\s+copy\s+dummy\s+0x3\s+10\s+20\s+4\s+wd_dummy_v1\s+1/);
    expect(r.out).toContain("acc2  zone 0  priority ?  iommu 3  unusable");
    expect(r.out).toContain('! wdev/priority: not a decimal integer: "x"');
    expect(r.err).toBe("");
  });
  test("--json has exactly the documented keys", () => {
    using tree = sample();
    const r = wd(["list", "--json", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(["schema", "classDir", "classDirs", "devices"]);
    expect(j.schema).toBe(1);
    expect(j.classDir).toBe(path.join(tree.root, "class", "warpdrive"));
    expect(j.classDirs).toEqual([
      { class: "warpdrive", path: path.join(tree.root, "class", "warpdrive"), present: true },
      { class: "uacce", path: path.join(tree.root, "class", "uacce"), present: false },
    ]);
    expect(j.devices.length).toBe(3);
    expect(Object.keys(j.devices[0]).sort()).toEqual(["class", "enabled", "id", "iommu", "priority", "problems", "types", "uacce", "zoneId"]);
    expect([j.devices[0].class, j.devices[0].uacce]).toEqual(["warpdrive", null]);
    expect(Object.keys(j.devices[0].types[0]).sort()).toEqual(
      ["availableInstances", "deviceApi", "flags", "latency", "mdevs", "name", "problems", "throughput", "type", "wdType"],
    );
    expect(j.devices[0].types[0]).toMatchObject({ type: "wd_dummy-copy", flags: 3, mdevs: [M1] });
    expect(j.devices[2]).toMatchObject({ id: "acc2", enabled: false, priority: null, problems: ['wdev/priority: not a decimal integer: "x"'] });
  });
  test("the sysfs root comes from WD_SYSFS_ROOT when --sysfs is absent", () => {
    using tree = sample();
    const r = wd(["list", "--json"], { WD_SYSFS_ROOT: tree.root });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).devices.length).toBe(3);
  });
  test("a missing class directory exits 1 with one line naming the path", () => {
    using tree = makeSysfs({ devices: [] });
    fs.rmSync(path.join(tree.root, "class"), { recursive: true });
    const r = wd(["list", "--sysfs", tree.root]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err.trim().split("\n").length).toBe(1);
    expect(r.err).toContain(path.join(tree.root, "class", "warpdrive"));
    expect(r.err).not.toContain("    at ");
  });
  test("an empty class directory exits 1", () => {
    using tree = makeSysfs({ devices: [] });
    const r = wd(["list", "--sysfs", tree.root]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("No accelerators in");
  });
});

describe("wd pick", () => {
  test("--json prints one object with exactly the documented keys", () => {
    using tree = sample();
    const r = wd(["pick", "--alg", "copy", "--api", "wd_dummy_v1", "--json", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual([
      "schema", "class", "device", "type", "name", "wdType", "flags", "latency", "throughput", "availableInstances", "deviceApi", "priority", "zoneId",
      "mdev", "uacce",
    ]);
    expect(j).toEqual({
      schema: 1, class: "warpdrive", device: "acc0", type: "wd_dummy-copy", name: "copy", wdType: "dummy", flags: 3, latency: 10, throughput: 20,
      availableInstances: 4, deviceApi: "wd_dummy_v1", priority: 0, zoneId: 0, mdev: M1, uacce: null,
    });
  });
  test("--allow-create can choose a type without mdevs; mdev is null then", () => {
    using tree = sample();
    const j = JSON.parse(wd(["pick", "--alg", "copy", "--api", "wd_dummy_v1", "--allow-create", "--json", "--sysfs", tree.root]).out);
    expect([j.device, j.mdev]).toEqual(["acc1", null]);
  });
  test("--flags, --zone, --prefer and --wd-type reach the selection", () => {
    using tree = sample();
    const base = ["pick", "--alg", "copy", "--api", "wd_dummy_v1", "--allow-create", "--json", "--sysfs", tree.root];
    expect(JSON.parse(wd([...base, "--flags", "0x2"]).out).device).toBe("acc0");
    expect(JSON.parse(wd([...base, "--flags", "2"]).out).device).toBe("acc0");
    expect(wd([...base, "--wd-type", "crypto"]).code).toBe(1);
  });
  test("--explain lists every candidate on stderr", () => {
    using tree = sample();
    const r = wd(["pick", "--alg", "copy", "--api", "wd_dummy_v1", "--explain", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`acc0/wd_dummy-copy  mdev ${M1}`);
    expect(r.err).toContain("  1 acc0/wd_dummy-copy");
    expect(r.err).toContain("  - acc1/wd_dummy-copy: rejected: no mediated device exists");
    expect(r.err).toContain("  - acc2/wd_dummy-copy: rejected: bad device attributes");
  });
  test("without --api the registered drivers' apis are accepted (wd_dummy_v1 is built in)", () => {
    using tree = sample();
    const r = wd(["pick", "--alg", "copy", "--json", "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).deviceApi).toBe("wd_dummy_v1");
  });
  test("nothing matched exits 1 with one line, and --explain says why for each candidate", () => {
    using tree = sample();
    const one = wd(["pick", "--alg", "copy", "--api", "acme_v2", "--sysfs", tree.root]);
    expect(one.code).toBe(1);
    expect(one.err).toBe('wd: No accelerator offers "copy" that can be used: 3 candidate(s) rejected (--explain says why for each)\n');
    const r = wd(["pick", "--alg", "copy", "--api", "acme_v2", "--explain", "--sysfs", tree.root]);
    expect(r.code).toBe(1);
    expect(r.err).toStartWith('wd: No accelerator offers "copy" that can be used: 3 candidate(s) rejected\n');
    expect(r.err).toContain('acc0/wd_dummy-copy: no user-space driver for device_api "wd_dummy_v1" (accepted: "acme_v2")');
    expect(r.err).not.toContain("    at ");
  });
  test("bad usage exits 2 with one line", () => {
    using tree = sample();
    for (const args of [
      ["pick", "--sysfs", tree.root],
      ["pick", "--alg", "copy", "--flags", "0xzz", "--sysfs", tree.root],
      ["pick", "--alg", "copy", "--prefer", "speed", "--sysfs", tree.root],
      ["pick", "--alg", "copy", "--zone", "one", "--sysfs", tree.root],
      ["pick", "--alg", "copy", "--bogus"],
      ["frobnicate"],
      [],
    ]) {
      const r = wd(args);
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
      expect(r.err.trim().split("\n").length).toBe(1);
      expect(r.err).toStartWith("wd: ");
    }
  });
  test("WD_DEBUG=1 adds the stack trace", () => {
    const r = wd(["pick", "--alg", "copy", "--flags", "zz"], { WD_DEBUG: "1" });
    expect(r.code).toBe(2);
    expect(r.err).toContain("    at ");
  });
});

describe("wd create, remove, priority, disable, zone", () => {
  test("create writes the given UUID to create and prints it", () => {
    using tree = sample();
    const r = wd(["create", "--device", "acc1", "--type", "wd_dummy-copy", "--uuid", M1.replace("83", "84"), "--sysfs", tree.root]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(M1.replace("83", "84"));
    const create = path.join(tree.root, "class", "warpdrive", "acc1", "mdev_supported_types", "wd_dummy-copy", "create");
    expect(fs.readFileSync(create, "utf8")).toBe(M1.replace("83", "84"));
  });
  test("create with a bad UUID exits 2; with an unknown device exits 1", () => {
    using tree = sample();
    expect(wd(["create", "--device", "acc1", "--type", "wd_dummy-copy", "--uuid", "x", "--sysfs", tree.root]).code).toBe(2);
    const r = wd(["create", "--device", "nope", "--type", "wd_dummy-copy", "--sysfs", tree.root]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('No accelerator "nope"');
    expect(wd(["create", "--device", "acc1", "--sysfs", tree.root]).code).toBe(2);
  });
  test("remove writes 1 to the mdev's remove file", () => {
    using tree = sample();
    expect(wd(["remove", M1, "--sysfs", tree.root]).code).toBe(0);
    expect(fs.readFileSync(path.join(tree.root, "bus", "mdev", "devices", M1, "remove"), "utf8")).toBe("1");
  });
  test("priority in range is written, out of range exits 2 and points at disable", () => {
    using tree = sample();
    const file = path.join(tree.root, "class", "warpdrive", "acc0", "wdev", "priority");
    expect(wd(["priority", "acc0", "-7", "--sysfs", tree.root]).code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("-7");
    const r = wd(["priority", "acc0", "150", "--sysfs", tree.root]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("disable");
    expect(fs.readFileSync(file, "utf8")).toBe("-7");
    expect(wd(["disable", "acc0", "--sysfs", tree.root]).code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("100");
  });
  test("zone writes zone_id", () => {
    using tree = sample();
    expect(wd(["zone", "acc0", "2", "--sysfs", tree.root]).code).toBe(0);
    expect(fs.readFileSync(path.join(tree.root, "class", "warpdrive", "acc0", "wdev", "zone_id"), "utf8")).toBe("2");
  });
});

describe("wd --help and --version", () => {
  test("--version prints the package version", () => {
    const r = wd(["--version"]);
    expect([r.code, r.out.trim()]).toEqual([0, VERSION]);
  });
  test("--help documents the commands and exit codes", () => {
    const r = wd(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["list", "pick", "create", "remove", "priority", "disable", "zone", "apply", "save", "bench", "sample", "completion", "help"]) {
      expect(r.out).toMatch(new RegExp(`^  ${c} +\\S`, "m"));
    }
    for (const w of ["--sysfs", "--json", "Exit codes", "WD_SYSFS_ROOT", "wd help COMMAND"]) expect(r.out).toContain(w);
  });
  test("the version matches package.json", () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dir, "..", "..", "package.json"), "utf8"));
    expect(VERSION).toBe(pkg.version);
  });
});
