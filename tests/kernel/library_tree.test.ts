// The library against the dummy module's real tree: what enumerate() reads equals what the
// kernel's files say, select() ranks on the real values, and the library's own writes
// (createMdev, removeMdev, setPriority, setZone, disableDevice) change the kernel's state
// as the spec says. The protocol_* suites check the module's tree with raw reads and
// writes; these check warpdrive on top of it. Runs as root inside the kernel rig.
import { describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import {
  type Accelerator,
  createMdev,
  disableDevice,
  enumerate,
  NoAcceleratorError,
  removeMdev,
  select,
  setPriority,
  setZone,
} from "../../mod.ts";
import { attr, CLASS_DIR, deviceNames, kernelProblems, MDEV_DIR, reload, requireRig, typeDir, freshModuleAround } from "./kmod_harness.ts";

const APIS = ["wd_dummy_v1"];
// The rig loads the dummy UACCE driver too: these tests are about the WarpDrive class.
const WD = { classes: ["warpdrive"] } as const;

function device(id: string): Accelerator {
  const d = enumerate(WD).devices.find((x) => x.id === id);
  if (d === undefined) throw new Error(`enumerate() did not list ${id}`);
  return d;
}

function free(dev: string, algo: string): number {
  return Number(attr(`${typeDir(dev, algo)}/available_instances`));
}

describe("the library on the module's real tree", () => {
  freshModuleAround();

  test("enumerate() lists exactly the kernel's devices and types, every attribute as the files say", () => {
    requireRig();
    const inv = enumerate(WD);
    expect(inv.devices.map((d) => d.id)).toEqual(deviceNames());
    for (const d of inv.devices) {
      expect(d.problems).toEqual([]);
      expect(d.enabled).toBe(true);
      expect(d.zoneId).toBe(Number(attr(`${CLASS_DIR}/${d.id}/wdev/zone_id`)));
      expect(d.priority).toBe(Number(attr(`${CLASS_DIR}/${d.id}/wdev/priority`)));
      expect(d.iommu).toBe(Number(attr(`${CLASS_DIR}/${d.id}/wdev/iommu`)));
      expect(d.types.map((t) => t.type)).toEqual(readdirSync(`${CLASS_DIR}/${d.id}/mdev_supported_types`).sort());
      for (const t of d.types) {
        const dir = `${CLASS_DIR}/${d.id}/mdev_supported_types/${t.type}`;
        expect(t.problems).toEqual([]);
        expect(t.name).toBe(attr(`${dir}/name`));
        expect(t.wdType).toBe(attr(`${dir}/wd_type`));
        expect(t.deviceApi).toBe(attr(`${dir}/device_api`));
        expect(t.flags).toBe(Number.parseInt(attr(`${dir}/flags`), 16));
        expect(t.latency).toBe(Number(attr(`${dir}/latency`)));
        expect(t.throughput).toBe(Number(attr(`${dir}/throughput`)));
        expect(t.availableInstances).toBe(Number(attr(`${dir}/available_instances`)));
        expect([...t.mdevs]).toEqual(readdirSync(`${dir}/devices`).sort());
      }
    }
  });

  test("enumerate({ alg }) reads the other algorithm's types no further than their name", () => {
    requireRig();
    for (const d of enumerate({ ...WD, alg: "csum" }).devices) {
      const copy = d.types.find((t) => t.name === "copy");
      const csum = d.types.find((t) => t.name === "csum");
      expect(copy?.partial).toBe(true);
      expect(csum?.partial).toBe(false);
      expect(csum?.deviceApi).toBe("wd_dummy_v1");
    }
  });

  test("createMdev and removeMdev: the kernel's devices/, available_instances and enumerate() follow", () => {
    requireRig();
    const before = free("wd_dummy0", "copy");
    const uuid = createMdev("wd_dummy0", "wd_dummy-copy");
    try {
      expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(true);
      expect(free("wd_dummy0", "copy")).toBe(before - 1);
      expect(free("wd_dummy0", "csum")).toBe(before);
      const t = device("wd_dummy0").types.find((x) => x.name === "copy");
      expect(t?.mdevs).toEqual([uuid]);
      expect(t?.availableInstances).toBe(before - 1);
      // select() offers the existing mdev first, with no creation needed.
      const s = select(enumerate(WD), { alg: "copy", apis: APIS });
      expect(s.device.id).toBe("wd_dummy0");
      expect(s.mdev).toBe(uuid);
      expect(s.mustCreate).toBe(false);
    } finally {
      removeMdev(uuid);
    }
    expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(false);
    expect(free("wd_dummy0", "copy")).toBe(before);
    expect(device("wd_dummy0").types.find((x) => x.name === "copy")?.mdevs).toEqual([]);
  });

  test("createMdev with a caller's UUID, twice: the kernel's EEXIST comes back with the path", () => {
    requireRig();
    const uuid = randomUUID();
    expect(createMdev("wd_dummy1", "wd_dummy-csum", { uuid })).toBe(uuid);
    try {
      let err: (Error & { code?: string }) | undefined;
      try {
        createMdev("wd_dummy1", "wd_dummy-copy", { uuid });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe("EEXIST");
      expect(err?.message).toContain(`${typeDir("wd_dummy1", "copy")}/create`);
    } finally {
      removeMdev(uuid);
    }
  });

  test("createMdev past available_instances is refused before any write, naming what to do", () => {
    requireRig();
    const n = free("wd_dummy2", "copy");
    const made: string[] = [];
    try {
      for (let i = 0; i < n; i++) made.push(createMdev("wd_dummy2", "wd_dummy-copy"));
      expect(free("wd_dummy2", "copy")).toBe(0);
      expect(() => createMdev("wd_dummy2", "wd_dummy-copy")).toThrow(/available_instances is 0; remove an unused mediated device first/);
      expect(readdirSync(`${typeDir("wd_dummy2", "copy")}/devices`).length).toBe(n);
    } finally {
      for (const u of made) removeMdev(u);
    }
    expect(free("wd_dummy2", "copy")).toBe(n);
  });

  test("removeMdev of a UUID the kernel does not have fails with ENOENT and writes nothing", () => {
    requireRig();
    const uuid = randomUUID();
    expect(() => removeMdev(uuid)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  test("setPriority, setZone and disableDevice write the kernel's attributes, and select() follows them", () => {
    requireRig();
    try {
      setPriority("wd_dummy2", -7);
      setZone("wd_dummy1", 4);
      expect(attr(`${CLASS_DIR}/wd_dummy2/wdev/priority`)).toBe("-7");
      expect(attr(`${CLASS_DIR}/wd_dummy1/wdev/zone_id`)).toBe("4");
      expect(device("wd_dummy2").priority).toBe(-7);
      expect(device("wd_dummy1").zoneId).toBe(4);
      // Priority comes first: wd_dummy2 wins even against the caller's zone.
      expect(select(enumerate(WD), { alg: "copy", apis: APIS, allowCreate: true, zone: 4 }).device.id).toBe("wd_dummy2");
      disableDevice("wd_dummy2");
      expect(Number(attr(`${CLASS_DIR}/wd_dummy2/wdev/priority`))).toBeGreaterThan(99);
      expect(device("wd_dummy2").enabled).toBe(false);
      // With wd_dummy2 out, the zone decides between equal priorities.
      const s = select(enumerate(WD), { alg: "copy", apis: APIS, allowCreate: true, zone: 4 });
      expect(s.device.id).toBe("wd_dummy1");
      const rejected = s.candidates.find((c) => c.device === "wd_dummy2" && c.name === "copy");
      expect(rejected?.accepted).toBe(false);
      expect(rejected?.reason).toMatch(/^device disabled/);
    } finally {
      setPriority("wd_dummy2", 0);
      setZone("wd_dummy1", 0);
    }
    expect(attr(`${CLASS_DIR}/wd_dummy2/wdev/priority`)).toBe("0");
  });

  test("module parameters: enumerate() and select() see five devices, their priorities, zones and capacity", () => {
    requireRig();
    reload({ devices: 5, instances: 2, priority: "-5,0,200", zone: "1,1,2,2,3" });
    try {
      const inv = enumerate(WD);
      expect(inv.devices.map((d) => [d.id, d.priority, d.zoneId, d.enabled])).toEqual([
        ["wd_dummy0", -5, 1, true],
        ["wd_dummy1", 0, 1, true],
        ["wd_dummy2", 200, 2, false],
        ["wd_dummy3", 0, 2, true],
        ["wd_dummy4", 0, 3, true],
      ]);
      for (const d of inv.devices) for (const t of d.types) expect(t.availableInstances).toBe(2);
      const s = select(inv, { alg: "csum", apis: APIS, allowCreate: true, zone: 3 });
      expect(s.ranked.map((p) => p.device.id)).toEqual(["wd_dummy0", "wd_dummy4", "wd_dummy1", "wd_dummy3"]);
    } finally {
      reload();
    }
  }, 60_000);

  test("with no devices (devices=0), enumerate() lists none and select() says so", () => {
    requireRig();
    reload({ devices: 0 });
    try {
      expect(enumerate(WD).devices).toEqual([]);
      expect(() => select(enumerate(WD), { alg: "copy", apis: APIS })).toThrow(NoAcceleratorError);
    } finally {
      reload();
    }
  }, 60_000);

  test("the kernel log has no WARNING, BUG, Oops or general protection fault", () => {
    requireRig();
    expect(kernelProblems()).toEqual([]);
  });
});
