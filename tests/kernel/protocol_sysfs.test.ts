// The dummy WarpDrive module's sysfs tree, as the spec and DECISIONS.md write it.
// Runs as root inside the kernel rig; fails (never skips) outside it.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import {
  attr,
  CLASS_DIR,
  deviceNames,
  kernelProblems,
  loaded,
  MODULE,
  reload,
  requireRig,
  run,
  typeDir,
  freshModuleAround,
} from "./kmod_harness.ts";

const ALGOS = ["copy", "csum"] as const;
const TYPE_FILES = [
  "name",
  "wd_type",
  "latency",
  "throughput",
  "flags",
  "available_instances",
  "device_api",
  "create",
  "devices",
];

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("protocol: the wd_dummy sysfs tree, read and written raw", () => {
  freshModuleAround();

  test("the default module makes three devices under /sys/class/warpdrive", () => {
    requireRig();
    expect(deviceNames()).toEqual(["wd_dummy0", "wd_dummy1", "wd_dummy2"]);
  });

  test("wdev/ has zone_id (rw), priority (rw) and iommu (ro, TYPE1v2 = 3)", () => {
    requireRig();
    for (const dev of deviceNames()) {
      const w = `${CLASS_DIR}/${dev}/wdev`;
      expect(readdirSync(w).sort()).toEqual(["iommu", "priority", "zone_id"]);
      expect(mode(`${w}/zone_id`)).toBe(0o644);
      expect(mode(`${w}/priority`)).toBe(0o644);
      expect(mode(`${w}/iommu`)).toBe(0o444);
      expect(attr(`${w}/zone_id`)).toBe("0");
      expect(attr(`${w}/priority`)).toBe("0");
      expect(attr(`${w}/iommu`)).toBe("3");
    }
  });

  test("each device has the types wd_dummy-copy and wd_dummy-csum under mdev_supported_types", () => {
    requireRig();
    for (const dev of deviceNames()) {
      const types = readdirSync(`${CLASS_DIR}/${dev}/mdev_supported_types`).sort();
      expect(types).toEqual(["wd_dummy-copy", "wd_dummy-csum"]);
      for (const algo of ALGOS) {
        const t = typeDir(dev, algo);
        const present = new Set(readdirSync(t));
        for (const f of TYPE_FILES) expect(present.has(f), `${t}/${f}`).toBe(true);
        expect(statSync(`${t}/devices`).isDirectory()).toBe(true);
        expect(mode(`${t}/create`)).toBe(0o200);
        for (const f of ["name", "wd_type", "latency", "throughput", "flags", "device_api"]) {
          expect(mode(`${t}/${f}`), f).toBe(0o444);
        }
      }
    }
  });

  test("type attributes carry the algorithm, the API and levels in [0, 99]", () => {
    requireRig();
    for (const dev of deviceNames()) {
      for (const algo of ALGOS) {
        const t = typeDir(dev, algo);
        expect(attr(`${t}/name`)).toBe(algo);
        expect(attr(`${t}/device_api`)).toBe("wd_dummy_v1");
        expect(attr(`${t}/available_instances`)).toBe("4");
        expect(attr(`${t}/wd_type`)).toMatch(/^[a-z]+$/);
        for (const f of ["latency", "throughput"]) {
          const v = Number(attr(`${t}/${f}`));
          expect(Number.isInteger(v) && v >= 0 && v <= 99, `${t}/${f} = ${v}`).toBe(true);
        }
      }
      expect(attr(`${typeDir(dev, "copy")}/wd_type`)).not.toBe(attr(`${typeDir(dev, "csum")}/wd_type`));
    }
  });

  test("flags are hex: copy has SHARE_ALL|SGL_MEM, csum only SHARE_ALL, both have algorithm bits", () => {
    requireRig();
    const dev = deviceNames()[0] ?? "";
    const copy = attr(`${typeDir(dev, "copy")}/flags`);
    const csum = attr(`${typeDir(dev, "csum")}/flags`);
    expect(copy).toMatch(/^0x[0-9a-f]+$/);
    expect(csum).toMatch(/^0x[0-9a-f]+$/);
    const c = Number.parseInt(copy, 16);
    const s = Number.parseInt(csum, 16);
    expect(c & 0xff).toBe(0x3);
    expect(s & 0xff).toBe(0x1);
    expect(c & ~0xff).not.toBe(0);
    expect(s & ~0xff).not.toBe(0);
    expect(c & ~0xff).not.toBe(s & ~0xff);
  });

  test("priority takes any integer; out of [-100, 99] is kept (it means disabled)", () => {
    requireRig();
    const p = `${CLASS_DIR}/wd_dummy1/wdev/priority`;
    try {
      for (const v of ["-100", "99", "150", "-101", "7"]) {
        writeFileSync(p, `${v}\n`);
        expect(attr(p)).toBe(v);
      }
      expect(() => writeFileSync(p, "high")).toThrow(expect.objectContaining({ code: "EINVAL" }));
      expect(attr(p)).toBe("7");
    } finally {
      writeFileSync(p, "0");
    }
  });

  test("zone_id is writable and read back", () => {
    requireRig();
    const z = `${CLASS_DIR}/wd_dummy2/wdev/zone_id`;
    try {
      writeFileSync(z, "3");
      expect(attr(z)).toBe("3");
      expect(() => writeFileSync(z, "x")).toThrow(expect.objectContaining({ code: "EINVAL" }));
    } finally {
      writeFileSync(z, "0");
    }
  });

  test("iommu is read-only", () => {
    requireRig();
    expect(() => writeFileSync(`${CLASS_DIR}/wd_dummy0/wdev/iommu`, "1")).toThrow();
    expect(attr(`${CLASS_DIR}/wd_dummy0/wdev/iommu`)).toBe("3");
  });

  test("module parameters shape the tree: devices, instances, priority[], zone[]", () => {
    requireRig();
    reload({ devices: 5, instances: 2, priority: "-5,0,200", zone: "1,1,2,2,3" });
    expect(deviceNames()).toEqual(["wd_dummy0", "wd_dummy1", "wd_dummy2", "wd_dummy3", "wd_dummy4"]);
    const prio = deviceNames().map((d) => attr(`${CLASS_DIR}/${d}/wdev/priority`));
    const zone = deviceNames().map((d) => attr(`${CLASS_DIR}/${d}/wdev/zone_id`));
    expect(prio).toEqual(["-5", "0", "200", "0", "0"]);
    expect(zone).toEqual(["1", "1", "2", "2", "3"]);
    for (const d of deviceNames()) {
      for (const algo of ALGOS) expect(attr(`${typeDir(d, algo)}/available_instances`)).toBe("2");
    }
  }, 60_000);

  test("devices=0 leaves an empty class directory", () => {
    requireRig();
    reload({ devices: 0 });
    expect(existsSync(CLASS_DIR)).toBe(true);
    expect(deviceNames()).toEqual([]);
  }, 60_000);

  test("out-of-range parameters make insmod fail and load nothing", () => {
    const ko = requireRig();
    reload();
    run("rmmod", [MODULE]);
    for (const bad of [["devices=17"], ["instances=65"], ["priority=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"]]) {
      const r = run("insmod", [ko, ...bad]);
      expect(r.status, bad.join(" ")).not.toBe(0);
      expect(loaded()).toBe(false);
    }
  }, 60_000);

  test("unloading the module removes /sys/class/warpdrive", () => {
    requireRig();
    reload();
    expect(deviceNames().length).toBe(3);
    run("rmmod", [MODULE]);
    expect(loaded()).toBe(false);
    expect(existsSync(CLASS_DIR)).toBe(false);
    reload();
    expect(deviceNames().length).toBe(3);
  }, 60_000);

  test("the kernel log has no WARNING, BUG, Oops or general protection fault", () => {
    requireRig();
    expect(kernelProblems()).toEqual([]);
  });
});
