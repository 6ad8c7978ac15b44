import { afterEach, describe, expect, test } from "bun:test";
import { registerDriver, registeredDeviceApis, unregisterDriver } from "../../src/drivers/mod.ts";
import { driverFor } from "./_drivers.ts";
import { type Criteria, NoAcceleratorError, select, type SelectCriteria, type Selection } from "../../src/select/select.ts";
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { type FixtureDevice, makeSysfs } from "../../src/sysfs/fixture.ts";
import { WD_CAPA_SGL_MEM, WD_CAPA_SHARE_ALL } from "../../src/sysfs/parse.ts";

const M1 = "11111111-1111-4111-8111-111111111111";
const M2 = "22222222-2222-4222-8222-222222222222";
const M3 = "33333333-3333-4333-8333-333333333333";
const API = ["wd_dummy_v1"];

function pick(devices: FixtureDevice[], criteria: Omit<Criteria, "apis"> & { apis?: readonly string[] }): Selection {
  using tree = makeSysfs({ devices });
  return select(enumerate({ root: tree.root, alg: criteria.alg }), { apis: API, ...criteria });
}
function fail(devices: FixtureDevice[], criteria: Criteria): NoAcceleratorError {
  try {
    pick(devices, criteria);
  } catch (e) {
    if (e instanceof NoAcceleratorError) return e;
    throw e;
  }
  throw new Error("select did not fail");
}
let serial = 0;
/** A fresh UUID per call: mediated device UUIDs are unique in a tree, as in the kernel. */
const fresh = (): string => `aaaaaaaa-0000-4000-8000-${(++serial).toString(16).padStart(12, "0")}`;
const copy = (extra: object = {}) => ({ name: "copy", mdevs: [fresh()], ...extra });

describe("step 2: the algorithm matches name exactly", () => {
  test("name, not the directory name, decides", () => {
    const s = pick([
      { id: "a", types: [{ dir: "drv-copy", name: "copyx", mdevs: [M1] }] },
      { id: "b", types: [{ dir: "drv-other", name: "copy", mdevs: [M2] }] },
    ], { alg: "copy" });
    expect([s.device.id, s.type.type, s.mdev]).toEqual(["b", "drv-other", M2]);
  });
  test("a fully read inventory (no alg given to enumerate) still matches the name exactly", () => {
    using tree = makeSysfs({
      devices: [
        { id: "a", types: [{ dir: "drv-copyx", name: "copyx", mdevs: [M1] }] },
        { id: "b", types: [{ dir: "drv-copy", name: "copy", mdevs: [M2] }] },
      ],
    });
    const s = select(enumerate({ root: tree.root }), { alg: "copy", apis: API });
    expect([s.device.id, s.ranked.length]).toEqual(["b", 1]);
    expect(s.candidates.find((c) => c.device === "a")?.reason).toBe('offers "copyx", not "copy"');
  });
  test("no prefix or case-insensitive match", () => {
    const e = fail([{ id: "a", types: [{ name: "Copy", mdevs: [M1] }, { dir: "x-c", name: "copy2", mdevs: [M2] }] }], { alg: "copy" });
    expect(e.message).toContain("no type has that name");
    expect(e.message).toContain("other algorithms offered: Copy (1), copy2 (1)");
  });
});

describe("step 3: sub-features", () => {
  test("every requested flag bit must be set", () => {
    const devices = [
      { id: "a", types: [copy({ flags: WD_CAPA_SHARE_ALL })] },
      { id: "b", types: [copy({ flags: WD_CAPA_SHARE_ALL | WD_CAPA_SGL_MEM | 0x100 })] },
    ];
    expect(pick(devices, { alg: "copy", flags: WD_CAPA_SGL_MEM }).device.id).toBe("b");
    expect(pick(devices, { alg: "copy", flags: 0x101 }).device.id).toBe("b");
    const e = fail(devices, { alg: "copy", flags: 0x200 });
    expect(e.candidates.find((c) => c.device === "a")?.reason).toBe("flags 0x1 lack 0x200 (asked for 0x200)");
  });
  test("flags 0 (or none) accepts any mask", () => {
    expect(pick([{ id: "a", types: [copy({ flags: 0 })] }], { alg: "copy" }).device.id).toBe("a");
  });
  test("wd_type filters when given", () => {
    const devices = [
      { id: "a", types: [copy({ wdType: "crypto" })] },
      { id: "b", types: [copy({ wdType: "compress" })] },
    ];
    expect(pick(devices, { alg: "copy", wdType: "compress" }).device.id).toBe("b");
    const e = fail(devices, { alg: "copy", wdType: "zip" });
    expect(e.candidates.map((c) => c.reason)).toEqual(['wd_type is "crypto", not "zip"', 'wd_type is "compress", not "zip"']);
  });
});

describe("step 4: device_api needs a user-space driver", () => {
  afterEach(() => void unregisterDriver("proto_v9"));
  test("select needs the accepted apis; registeredDeviceApis() gives those with a driver", () => {
    using tree = makeSysfs({ devices: [{ id: "a", types: [copy({ deviceApi: "proto_v9" })] }] });
    const inv = enumerate({ root: tree.root });
    expect(() => select(inv, { alg: "copy" } as SelectCriteria)).toThrow(/apis must be an array of the accepted device_api strings/);
    expect(registeredDeviceApis()).not.toContain("proto_v9");
    expect(() => select(inv, { alg: "copy", apis: registeredDeviceApis() })).toThrow(/no user-space driver for device_api "proto_v9"/);
    registerDriver(driverFor("proto_v9"));
    expect(select(inv, { alg: "copy", apis: registeredDeviceApis() }).device.id).toBe("a");
  });
  test("an explicit apis list replaces the registered set", () => {
    const devices = [{ id: "a", types: [copy({ deviceApi: "v1" })] }, { id: "b", types: [copy({ deviceApi: "v2" })] }];
    expect(pick(devices, { alg: "copy", apis: ["v2"] }).device.id).toBe("b");
  });
});

describe("step 5: choosing the best", () => {
  test("priority ascending: smaller is preferred, negative included", () => {
    const s = pick([
      { id: "a", priority: 0, types: [copy()] },
      { id: "b", priority: -50, types: [copy()] },
      { id: "c", priority: 10, types: [copy()] },
    ], { alg: "copy" });
    expect(s.device.id).toBe("b");
    expect(s.candidates.filter((c) => c.accepted).map((c) => c.device)).toEqual(["b", "a", "c"]);
  });
  test("out-of-range priority disables a device", () => {
    const e = fail([{ id: "a", priority: 100, types: [copy()] }, { id: "b", priority: -101, types: [copy()] }], { alg: "copy" });
    expect(e.candidates.map((c) => c.reason)).toEqual([
      "device disabled: priority 100 is outside [-100, 99]",
      "device disabled: priority -101 is outside [-100, 99]",
    ]);
  });
  test("the caller's zone comes after priority", () => {
    const devices = [
      { id: "a", zoneId: 0, priority: 0, types: [copy({ throughput: 90 })] },
      { id: "b", zoneId: 1, priority: 0, types: [copy({ throughput: 10 })] },
      { id: "c", zoneId: 1, priority: 1, types: [copy({ throughput: 99 })] },
    ];
    expect(pick(devices, { alg: "copy" }).device.id).toBe("a");
    expect(pick(devices, { alg: "copy", zone: 1 }).device.id).toBe("b");
    expect(pick(devices, { alg: "copy", zone: 7 }).device.id).toBe("a");
    // A device in the caller's zone with a worse priority loses to one outside it.
    expect(pick(devices.filter((d) => d.id !== "b"), { alg: "copy", zone: 1 }).device.id).toBe("a");
  });
  test("throughput descending by default, latency ascending when preferred", () => {
    const devices = [
      { id: "a", types: [copy({ throughput: 20, latency: 50 })] },
      { id: "b", types: [copy({ throughput: 10, latency: 5 })] },
    ];
    expect(pick(devices, { alg: "copy" }).device.id).toBe("a");
    expect(pick(devices, { alg: "copy", prefer: "latency" }).device.id).toBe("b");
  });
  test("the performance level decides before available_instances", () => {
    const devices = [
      { id: "a", types: [copy({ throughput: 20, latency: 50, availableInstances: 1 })] },
      { id: "b", types: [copy({ throughput: 10, latency: 5, availableInstances: 3 })] },
    ];
    expect(pick(devices, { alg: "copy" }).device.id).toBe("a");
    expect(pick([
      { id: "a", types: [copy({ latency: 50, availableInstances: 3 })] },
      { id: "b", types: [copy({ latency: 5, availableInstances: 1 })] },
    ], { alg: "copy", prefer: "latency" }).device.id).toBe("b");
  });
  test("then available_instances descending, then device id in natural order", () => {
    expect(pick([
      { id: "a", types: [copy({ availableInstances: 1 })] },
      { id: "b", types: [copy({ availableInstances: 3 })] },
    ], { alg: "copy" }).device.id).toBe("b");
    expect(pick([
      { id: "acc10", types: [copy()] },
      { id: "acc9", types: [copy()] },
    ], { alg: "copy" }).device.id).toBe("acc9");
  });
  test("minThroughput and maxLatency reject with the level", () => {
    const e = fail([{ id: "a", types: [copy({ throughput: 5, latency: 50 })] }], { alg: "copy", minThroughput: 10 });
    expect(e.candidates[0]?.reason).toBe("throughput 5 is below the minimum 10");
    const e2 = fail([{ id: "a", types: [copy({ throughput: 5, latency: 50 })] }], { alg: "copy", maxLatency: 10 });
    expect(e2.candidates[0]?.reason).toBe("latency 50 is above the maximum 10");
  });
  test("minThroughput and maxLatency are inclusive bounds", () => {
    const devices = [{ id: "a", types: [copy({ throughput: 10, latency: 50 })] }];
    expect(pick(devices, { alg: "copy", minThroughput: 10, maxLatency: 50 }).device.id).toBe("a");
  });
});

describe("capacity: a free existing mdev, or creation when allowed", () => {
  test("an existing mdev is named, all of them listed in order", () => {
    const s = pick([{ id: "a", types: [{ name: "copy", mdevs: [M3, M1, M2] }] }], { alg: "copy" });
    expect([s.mdev, s.mdevs, s.mustCreate]).toEqual([M1, [M1, M2, M3], false]);
  });
  test("without mdevs, creation must be allowed and instances available", () => {
    const devices = [{ id: "a", types: [{ name: "copy", availableInstances: 2 }] }];
    expect(fail(devices, { alg: "copy" }).candidates[0]?.reason).toBe(
      "no mediated device exists and creating one was not allowed (2 could be created)",
    );
    const s = pick(devices, { alg: "copy", allowCreate: true });
    expect([s.mdev, s.mustCreate]).toEqual([null, true]);
    expect(fail([{ id: "a", types: [{ name: "copy", availableInstances: 0 }] }], { alg: "copy", allowCreate: true }).candidates[0]?.reason)
      .toBe("no mediated device exists and available_instances is 0");
  });
});

describe("explanation and errors", () => {
  test("every candidate is listed, accepted in rank order then rejected", () => {
    const s = pick([
      { id: "a", priority: 5, types: [copy(), { name: "csum", mdevs: [fresh()] }] },
      { id: "b", types: [copy()] },
      { id: "c", priority: "bad", types: [copy()] },
    ], { alg: "copy" });
    expect(s.candidates.map((c) => [c.device, c.type, c.accepted, c.rank])).toEqual([
      ["b", "wd_dummy-copy", true, 1],
      ["a", "wd_dummy-copy", true, 2],
      ["a", "wd_dummy-csum", false, 0],
      ["c", "wd_dummy-copy", false, 0],
    ]);
    expect(s.candidates[3]?.reason).toBe('bad device attributes: wdev/priority: not a decimal integer: "bad"');
    expect(s.ranked.map((p) => p.device.id)).toEqual(["b", "a"]);
  });
  test("nothing matched lists each rejected candidate and why", () => {
    const e = fail([
      { id: "a", types: [copy({ flags: "zz" })] },
      { id: "b", priority: 120, types: [copy()] },
    ], { alg: "copy" });
    expect(e.code).toBe("ENODEV");
    expect(e.message.split("\n")).toEqual([
      'No accelerator offers "copy" that can be used: 2 candidate(s) rejected',
      '  a/wd_dummy-copy: bad type attributes: flags: not a hex number: "zz"',
      "  b/wd_dummy-copy: device disabled: priority 120 is outside [-100, 99]",
    ]);
  });
  test("an empty class directory says so", () => {
    const e = fail([], { alg: "copy" });
    expect(e.message).toMatch(/^No accelerator offers "copy": no device in \S+\/class\/warpdrive and \S+\/class\/uacce \(absent\)$/);
  });
  test("malformed criteria are TypeError or RangeError", () => {
    using tree = makeSysfs({ devices: [] });
    const inv = enumerate({ root: tree.root });
    expect(() => select(inv, { alg: "", apis: API })).toThrow(TypeError);
    expect(() => select(inv, { alg: "copy", flags: -1, apis: API })).toThrow(RangeError);
    expect(() => select(inv, { alg: "copy", flags: 2 ** 32, apis: API })).toThrow(RangeError);
    expect(() => select(inv, { alg: "copy", prefer: "speed" as "latency", apis: API })).toThrow(RangeError);
    expect(() => select(inv, { alg: "copy", maxLatency: 100, apis: API })).toThrow(RangeError);
  });
});
