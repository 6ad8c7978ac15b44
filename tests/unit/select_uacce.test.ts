import { describe, expect, test } from "bun:test";
import { type Criteria, NoAcceleratorError, select, type Selection } from "../../src/select/select.ts";
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { type FixtureDevice, type FixtureUacceDevice, makeSysfs } from "../../src/sysfs/fixture.ts";
import { WD_CAPA_SGL_MEM, WD_CAPA_SHARE_ALL } from "../../src/sysfs/parse.ts";
import { thrown } from "./_tree_paths.ts";

const APIS = ["wd_dummy_v1", "uacce_dummy_v1"];
const M1 = "11111111-1111-4111-8111-111111111111";

type Ask = Omit<Criteria, "apis"> & { apis?: readonly string[] };

function pick(devices: FixtureDevice[] | undefined, uacce: FixtureUacceDevice[], criteria: Ask): Selection {
  using tree = makeSysfs(devices === undefined ? { uacce } : { devices, uacce });
  return select(enumerate({ root: tree.root, alg: criteria.alg }), { apis: APIS, ...criteria });
}
function refused(devices: FixtureDevice[] | undefined, uacce: FixtureUacceDevice[], criteria: Ask): NoAcceleratorError {
  const e = thrown(() => pick(devices, uacce, criteria));
  if (!(e instanceof NoAcceleratorError)) throw e;
  return e;
}
const order = (s: Selection): string[] => s.ranked.map((p) => `${p.device.class}:${p.device.id}/${p.type.type}`);

describe("a UACCE device is a candidate per algorithm", () => {
  test("the pair is the device and its algorithm; no mediated device, nothing to create", () => {
    const s = pick(undefined, [{ id: "u-0", algorithms: ["crc32", "copy"] }], { alg: "copy" });
    expect([s.device.class, s.device.id, s.type.type, s.type.name, s.mdev, s.mdevs, s.mustCreate]).toEqual(["uacce", "u-0", "copy", "copy", null, [], false]);
    expect(s.candidates.map((c) => [c.class, c.device, c.type, c.accepted])).toEqual([["uacce", "u-0", "copy", true], ["uacce", "u-0", "crc32", false]]);
    expect(s.candidates[0]?.reason).toBe("priority neutral (0), throughput neutral (10), 2 free queue(s)");
  });

  test("the api must be accepted like a device_api", () => {
    const e = refused(undefined, [{ id: "u-0", api: "hisi_qm_v2" }], { alg: "copy" });
    expect(e.candidates[0]?.reason).toBe('no user-space driver for api "hisi_qm_v2" (accepted: "wd_dummy_v1", "uacce_dummy_v1")');
    expect(pick(undefined, [{ id: "u-0", api: "hisi_qm_v2" }], { alg: "copy", apis: ["hisi_qm_v2"] }).device.id).toBe("u-0");
  });

  test("no free queue, an isolated device and bad attributes are rejected with their reason", () => {
    const e = refused(undefined, [
      { id: "u-0", availableInstances: 0 },
      { id: "u-1", layout: "6.2", isolate: 1 },
      { id: "u-2", flags: "x" },
    ], { alg: "copy" });
    expect(e.candidates.map((c) => [c.device, c.reason])).toEqual([
      ["u-0", "no free queue (available_instances 0)"],
      ["u-1", "isolated after hardware errors (isolate 1)"],
      ["u-2", 'bad device attributes: flags: not a decimal integer: "x"'],
    ]);
    expect(e.message).toContain("u-0/copy: no free queue");
  });

  test("free queues not reported: still a candidate, ranked after one that reports free queues", () => {
    const s = pick(undefined, [{ id: "u-0", availableInstances: -19 }, { id: "u-1", availableInstances: 1 }], { alg: "copy" });
    expect(order(s)).toEqual(["uacce:u-1/copy", "uacce:u-0/copy"]);
    expect(s.candidates[1]?.reason).toContain("free queues not reported");
  });

  test("flags: SGL_MEM is offered with SVA only, SHARE_ALL never; wd_type rejects", () => {
    const sva = [{ id: "u-0", flags: 0 }, { id: "u-1", flags: 1 }];
    expect(order(pick(undefined, sva, { alg: "copy", flags: WD_CAPA_SGL_MEM }))).toEqual(["uacce:u-1/copy"]);
    const e = refused(undefined, sva, { alg: "copy", flags: WD_CAPA_SHARE_ALL });
    expect(e.candidates.map((c) => c.reason)).toEqual([
      "UACCE flags 0 (no SVA) offer 0x0, lacking 0x1 (asked for 0x1; SGL_MEM needs SVA)",
      "UACCE flags 1 (SVA) offer 0x2, lacking 0x1 (asked for 0x1; SGL_MEM needs SVA)",
    ]);
    expect(refused(undefined, sva, { alg: "copy", wdType: "crypto" }).candidates[0]?.reason).toBe('a UACCE device has no wd_type (asked for "crypto")');
  });

  test("levels are neutral (10) for minThroughput and maxLatency, inclusive", () => {
    const u = [{ id: "u-0" }];
    expect(pick(undefined, u, { alg: "copy", minThroughput: 10, maxLatency: 10 }).device.id).toBe("u-0");
    expect(refused(undefined, u, { alg: "copy", minThroughput: 11 }).candidates[0]?.reason).toContain("below the minimum 11");
    expect(refused(undefined, u, { alg: "copy", maxLatency: 9 }).candidates[0]?.reason).toContain("above the maximum 9");
  });
});

describe("one ranking over both classes", () => {
  const wd = (id: string, priority: number, extra: object = {}): FixtureDevice => ({ id, priority, types: [{ name: "copy", mdevs: [], ...extra }] });

  test("a UACCE device ranks at priority 0: after a smaller priority, before a larger one", () => {
    const s = pick([wd("a", -1, { mdevs: [M1] }), { id: "b", priority: 1, types: [{ name: "copy", mdevs: ["22222222-2222-4222-8222-222222222222"] }] }], [{ id: "u-0" }], { alg: "copy" });
    expect(order(s)).toEqual(["warpdrive:a/wd_dummy-copy", "uacce:u-0/copy", "warpdrive:b/wd_dummy-copy"]);
  });

  test("the zone is the NUMA node: the caller's node first; no node is not in any zone", () => {
    const u = [{ id: "u-0", numaNode: -1 }, { id: "u-1", numaNode: 1 }, { id: "u-2", numaNode: 0 }];
    expect(order(pick(undefined, u, { alg: "copy", zone: 0 }))).toEqual(["uacce:u-2/copy", "uacce:u-0/copy", "uacce:u-1/copy"]);
    const s = pick(undefined, u, { alg: "copy", zone: 1 });
    expect(order(s)[0]).toBe("uacce:u-1/copy");
    expect(s.candidates.map((c) => c.reason.split(", ")[1])).toEqual(["in zone 1 (NUMA node)", "no NUMA node", "zone 0 (NUMA node)"]);
  });

  test("throughput neutral (10): a WarpDrive type above it ranks first, one below it after", () => {
    const s = pick([wd("a", 0, { throughput: 11, mdevs: [M1] }), wd("b", 0, { throughput: 9, availableInstances: 1 })], [{ id: "u-0" }], { alg: "copy", allowCreate: true });
    expect(order(s)).toEqual(["warpdrive:a/wd_dummy-copy", "uacce:u-0/copy", "warpdrive:b/wd_dummy-copy"]);
  });

  test("equal otherwise, more free queues rank first, then the id", () => {
    const s = pick(undefined, [{ id: "u-10", availableInstances: 1 }, { id: "u-2", availableInstances: 1 }, { id: "u-3", availableInstances: 2 }], { alg: "copy" });
    expect(order(s)).toEqual(["uacce:u-3/copy", "uacce:u-2/copy", "uacce:u-10/copy"]);
  });

  test("classes narrows the candidates; other classes are rejected with that reason", () => {
    using tree = makeSysfs({ devices: [wd("a", 0, { mdevs: [M1] })], uacce: [{ id: "u-0" }] });
    const inv = enumerate({ root: tree.root });
    expect(select(inv, { alg: "copy", apis: APIS, classes: ["uacce"] }).device.id).toBe("u-0");
    const s = select(inv, { alg: "copy", apis: APIS, classes: ["warpdrive"] });
    expect(s.device.id).toBe("a");
    expect(s.candidates.find((c) => c.device === "u-0")?.reason).toBe("class uacce, not asked for (classes: warpdrive)");
    expect(() => select(inv, { alg: "copy", apis: APIS, classes: ["pci" as "uacce"] })).toThrow(TypeError);
  });

  test("nothing anywhere: the message names the class directories read", () => {
    using tree = makeSysfs({ devices: [] });
    const e = thrown(() => select(enumerate({ root: tree.root }), { alg: "copy", apis: APIS })) as NoAcceleratorError;
    expect(e.message).toBe(`No accelerator offers "copy": no device in ${tree.root}/class/warpdrive and ${tree.root}/class/uacce (absent)`);
  });
});
