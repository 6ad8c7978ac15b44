// Property tests over random sysfs trees and inventories (fast-check): enumerate never
// throws on content, every bad value is reported with its file and value, good values in
// any spelling read back exactly, select does not depend on the inventory's order, and
// `wd list --json` is always JSON. Seeded and bounded: WD_FC_SEED=<n> replays a run, and
// WD_FC_RUNS=<n> runs more cases.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../src/cli/wd.ts";
import { NoAcceleratorError, select } from "../../src/select/select.ts";
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { SysfsError } from "../../src/sysfs/errors.ts";
import { naturalCompare } from "../../src/sysfs/parse.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import type { Accelerator, AcceleratorType, Inventory } from "../../src/sysfs/model.ts";
import { check } from "./_fc.ts";


// ---- attribute values: good ones in random spellings, with what they must read as; junk ----

type Value = { readonly bytes: Uint8Array; readonly good?: number | string | null };

const enc = new TextEncoder();
const text = (s: string): Uint8Array => enc.encode(s);
const space = fc.constantFrom("", " ", "\n", "\t", "  \n");

function decimal(min: number, max: number): fc.Arbitrary<Value> {
  return fc.tuple(fc.integer({ min, max }), space, space, fc.boolean(), fc.nat({ max: 3 })).map(([n, a, b, plus, zeros]) => {
    const digits = "0".repeat(zeros) + String(Math.abs(n));
    const sign = n < 0 ? "-" : plus ? "+" : "";
    return { bytes: text(`${a}${sign}${digits}${b}`), good: n };
  });
}

const flagsGood: fc.Arbitrary<Value> = fc.tuple(fc.nat({ max: 0xffffffff }), fc.constantFrom("", "0x", "0X"), fc.boolean(), space)
  .map(([n, prefix, upper, b]) => {
    const hex = n.toString(16);
    return { bytes: text(`${prefix}${upper ? hex.toUpperCase() : hex}${b}`), good: n };
  });

const tokenGood: fc.Arbitrary<Value> = fc.tuple(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,24}$/), space).map(([t, b]) => ({
  bytes: text(`${t}${b}`),
  good: t,
}));

const junk: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => ({ bytes: text(s) })),
  fc.string({ unit: "binary", maxLength: 12 }).map((s) => ({ bytes: text(s) })),
  fc.constantFrom(
    "",
    " \n",
    "0x",
    "-",
    "+",
    "1e3",
    "0x10",
    "-0",
    "NaN",
    "Infinity",
    "99999999999999999999",
    "ffffffff1",
    "1 2",
    "\u0000",
    "1\u00002",
    "\u00a012\u00a0",
    "１２",
  ).map((s) => ({ bytes: text(s) })),
  fc.string({ minLength: 250, maxLength: 300 }).map((s) => ({ bytes: text(s) })),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => ({ bytes: b })),
);

const attr = (good: fc.Arbitrary<Value>): fc.Arbitrary<Value | null> =>
  fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: junk, weight: 2 }, { arbitrary: fc.constant(null), weight: 1 });

const TYPE_FILES = {
  name: attr(tokenGood),
  wd_type: attr(tokenGood),
  flags: attr(flagsGood),
  latency: attr(decimal(0, 99)),
  throughput: attr(decimal(0, 99)),
  available_instances: attr(decimal(0, 1000)),
  device_api: attr(tokenGood),
};
const DEVICE_FILES = {
  zone_id: attr(decimal(-0x80000000, 0x7fffffff)),
  priority: attr(decimal(-1000, 1000)),
  iommu: attr(decimal(0, 16)),
};

type Shape = "dir" | "file" | "dangling";
const shape: fc.Arbitrary<Shape> = fc.oneof(
  { arbitrary: fc.constant("dir" as const), weight: 8 },
  { arbitrary: fc.constantFrom("file" as const, "dangling" as const), weight: 1 },
);

const typeArb = fc.record({ dir: fc.stringMatching(/^[a-z]{1,6}(-[a-z0-9]{1,6})?$/), shape, files: fc.record(TYPE_FILES) });
const deviceArb = fc.record({
  id: fc.stringMatching(/^[a-z]{1,4}[0-9]{0,20}$/),
  shape,
  files: fc.record(DEVICE_FILES),
  types: fc.uniqueArray(typeArb, { maxLength: 3, selector: (t) => t.dir }),
});
const treeArb = fc.uniqueArray(deviceArb, { maxLength: 4, selector: (d) => d.id });

type TreeSpec = typeof treeArb extends fc.Arbitrary<infer T> ? T : never;

// UACCE entries: each file good (in any spelling), junk or missing. api, flags and
// algorithms are required; a missing file of the others is "not shown" (null).
const UACCE_FILES = {
  api: attr(tokenGood),
  flags: attr(decimal(0, 0xffffffff)),
  available_instances: attr(decimal(0, 1000)),
  region_mmio_size: attr(decimal(0, 2 ** 40)),
  region_dus_size: attr(decimal(0, 2 ** 40)),
  isolate: attr(decimal(0, 1)),
  isolate_strategy: attr(decimal(0, 65535)),
  "device/numa_node": attr(decimal(-1, 8)),
};
const UACCE_REQUIRED = ["api", "flags"];
const UACCE_FIELD: Record<string, string> = {
  api: "api",
  flags: "flags",
  available_instances: "availableInstances",
  region_mmio_size: "regionMmioSize",
  region_dus_size: "regionDusSize",
  isolate: "isolate",
  isolate_strategy: "isolateStrategy",
  "device/numa_node": "numaNode",
};
type Algorithms = { readonly bytes: Uint8Array; readonly good?: readonly string[] };
const algorithmsGood: fc.Arbitrary<Algorithms> = fc.tuple(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/), { minLength: 1, maxLength: 3 }), space)
  .map(([list, b]) => ({ bytes: text(`${list.join("\n")}\n${b}`), good: list }));
const uacceArb = fc.record({
  id: fc.stringMatching(/^[a-z]{1,4}-[0-9]{1,3}$/),
  algorithms: fc.oneof({ arbitrary: algorithmsGood, weight: 4 }, { arbitrary: junk, weight: 1 }, { arbitrary: fc.constant(null), weight: 1 }),
  files: fc.record(UACCE_FILES),
});
const uacceTreeArb = fc.uniqueArray(uacceArb, { maxLength: 3, selector: (d) => d.id });
type UacceTreeSpec = typeof uacceTreeArb extends fc.Arbitrary<infer T> ? T : never;

/** Writes the raw bytes of every UACCE value into the entries makeSysfs laid out (parents p0, p1, …). */
function writeUacce(root: string, spec: UacceTreeSpec): void {
  spec.forEach((d, i) => {
    const dev = path.join(root, "devices", "platform", `p${i}`, "uacce", d.id);
    if (d.algorithms !== null) fs.writeFileSync(path.join(dev, "algorithms"), d.algorithms.bytes);
    for (const [f, v] of Object.entries(d.files)) if (v !== null) fs.writeFileSync(path.join(dev, f), v.bytes);
  });
}

/** Checks one UACCE entry against what was written. */
function expectUacce(d: UacceTreeSpec[number], got: Accelerator): void {
  const a = d.algorithms;
  if (a === null || a.good === undefined) {
    if (got.uacce !== null) return; // junk that still reads as words on lines: checked as text below
    expect([d.id, got.problems.length, got.problems[0]?.startsWith(a === null ? "algorithms: missing" : "algorithms: ")]).toEqual([d.id, 1, true]);
    return;
  }
  const u = got.uacce as unknown as Record<string, unknown>;
  const good = a.good as readonly string[];
  expect([d.id, got.uacce?.algorithms, got.types.map((t) => t.name)]).toEqual([d.id, good, good]);
  for (const [f, v] of Object.entries(d.files)) {
    const got1 = u[UACCE_FIELD[f] as string];
    if (v === null && !UACCE_REQUIRED.includes(f)) {
      expect([d.id, f, got1, got.problems.filter((p) => p.startsWith(`${f}:`))]).toEqual([d.id, f, null, []]);
      continue;
    }
    // numa_node -1 is "no node".
    const want = v !== null && f === "device/numa_node" && v.good === -1 ? { ...v, good: null } : v;
    expectAttr(d.id, f, want, got1, got.problems);
  }
  expect([d.id, got.enabled]).toEqual([d.id, got.problems.length === 0 && u["isolate"] !== 1]);
}

/** Builds the random tree: the fixture for the layout, then the raw bytes of every value. */
function build(spec: TreeSpec): { root: string; close: () => void } {
  const tree = makeSysfs({
    devices: spec.map((d) => ({
      id: d.id,
      zoneId: null,
      priority: null,
      iommu: null,
      types: d.types.map((t) => ({ dir: t.dir, name: null, wdType: null, flags: null, latency: null, throughput: null, availableInstances: null, deviceApi: null })),
    })),
  });
  for (const d of spec) {
    const dev = path.join(tree.root, "devices", "warpdrive", d.id);
    for (const [f, v] of Object.entries(d.files)) if (v !== null) fs.writeFileSync(path.join(dev, "wdev", f), v.bytes);
    for (const t of d.types) {
      const dir = path.join(dev, "mdev_supported_types", t.dir);
      for (const [f, v] of Object.entries(t.files)) if (v !== null) fs.writeFileSync(path.join(dir, f), v.bytes);
      reshape(dir, t.shape);
    }
    reshape(path.join(tree.root, "class", "warpdrive", d.id), d.shape);
  }
  return tree;
}

function reshape(entry: string, s: Shape): void {
  if (s === "dir") return;
  fs.rmSync(entry, { recursive: true, force: true });
  if (s === "file") fs.writeFileSync(entry, "not a directory\n");
  else fs.symlinkSync("nowhere", entry);
}

const decoder = new TextDecoder();

/** Whether a problem names the value: its quoted text (as the parsers quote it), or its number. */
function namesValue(problem: string, bytes: Uint8Array): boolean {
  const t = decoder.decode(bytes).trim();
  if (t === "") return problem.endsWith(": empty");
  const shown = JSON.stringify(t.length > 40 ? t.slice(0, 40) : t).slice(0, -1);
  if (problem.includes(shown)) return true;
  return /^[+-]?[0-9]+$/.test(t) && problem.includes(String(Number(t)));
}

/** Checks one attribute's outcome: good values read back, bad ones are named in problems. */
function expectAttr(owner: string, file: string, v: Value | null, got: unknown, problems: readonly string[]): void {
  const mine = problems.filter((p) => p.startsWith(`${file}:`) || p.startsWith(`${file} (or `));
  if (v === null) {
    expect([owner, file, mine.length]).toEqual([owner, file, 1]);
    expect(mine[0]).toContain("missing");
    return;
  }
  if (v.good !== undefined) {
    expect([owner, file, got, mine]).toEqual([owner, file, v.good, []]);
    return;
  }
  if (got === null) {
    expect([owner, file, mine.length]).toEqual([owner, file, 1]);
    if (!namesValue(mine[0]!, v.bytes)) throw new Error(`${owner}: problem "${mine[0]}" does not name the value ${JSON.stringify(decoder.decode(v.bytes))}`);
  } else {
    expect(mine).toEqual([]);
  }
}

const FIELD: Record<string, keyof AcceleratorType | keyof Accelerator> = {
  name: "name",
  wd_type: "wdType",
  flags: "flags",
  latency: "latency",
  throughput: "throughput",
  available_instances: "availableInstances",
  device_api: "deviceApi",
  zone_id: "zoneId",
  priority: "priority",
  iommu: "iommu",
};

describe("enumerate over random trees", () => {
  test("never throws; bad values are named with their file and value; good ones read back; wd list --json is JSON", async () => {
    await check(
      "enumerate",
      fc.asyncProperty(treeArb, uacceTreeArb, async (spec, uacceSpec) => {
        const tree = build(spec);
        const u = makeSysfs({
          dir: tree.root,
          uacce: uacceSpec.map((d, i) => ({
            id: d.id,
            parent: `p${i}`,
            api: null,
            algorithms: null,
            flags: null,
            availableInstances: null,
            regionMmioSize: null,
            regionDusSize: null,
            numaNode: null,
          })),
        });
        writeUacce(tree.root, uacceSpec);
        try {
          const inv = enumerate({ root: tree.root });
          const wds = inv.devices.filter((d) => d.class === "warpdrive");
          expect(wds.map((d) => d.id).sort()).toEqual(spec.map((d) => d.id).sort());
          const uacces = inv.devices.filter((d) => d.class === "uacce");
          expect(uacces.map((d) => d.id).sort()).toEqual(uacceSpec.map((d) => d.id).sort());
          for (const d of uacceSpec) expectUacce(d, uacces.find((x) => x.id === d.id)!);
          for (const d of spec) {
            const got = wds.find((x) => x.id === d.id)!;
            if (d.shape !== "dir") {
              expect(got.problems.length).toBe(1);
              expect(got.enabled).toBe(false);
              continue;
            }
            expect(got.types.map((t) => t.type).sort()).toEqual(d.types.map((t) => t.dir).sort());
            for (const t of d.types) {
              const gt = got.types.find((x) => x.type === t.dir)!;
              if (t.shape !== "dir") {
                expect(gt.problems.length).toBe(1);
                continue;
              }
              for (const [f, v] of Object.entries(t.files)) {
                expectAttr(`${d.id}/${t.dir}`, f, v, gt[FIELD[f] as keyof AcceleratorType], gt.problems);
              }
            }
            for (const [f, v] of Object.entries(d.files)) {
              const problems = got.problems;
              if (v === null && f === "zone_id") {
                expect(problems).toContain("wdev/zone_id (or wdev/node_id): missing");
                continue;
              }
              if (v === null && f === "iommu") {
                expect(problems).toContain("wdev/iommu (or wdev/iommu_type): missing");
                continue;
              }
              expectAttr(d.id, `wdev/${f}`, v, got[FIELD[f] as keyof Accelerator], problems);
            }
          }
          const out: string[] = [];
          const err: string[] = [];
          const code = await main(["list", "--json", "--sysfs", tree.root], { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
          expect(code).toBe(spec.length + uacceSpec.length === 0 ? 1 : 0);
          expect(err).toEqual([]);
          const json = JSON.parse(out.join("\n"));
          expect(json.devices.length).toBe(spec.length + uacceSpec.length);
        } finally {
          u.close();
          tree.close();
        }
      }),
      80,
    );
  }, 30_000);

  test("only a missing class directory throws", () => {
    using tree = makeSysfs({ devices: [] });
    fs.rmSync(path.join(tree.root, "class"), { recursive: true });
    expect(() => enumerate({ root: tree.root })).toThrow(SysfsError);
  });
});

// ---- select over random in-memory inventories ----

const idArb = fc.oneof(
  fc.stringMatching(/^[a-z]{1,3}[0-9]{0,3}$/),
  fc.bigInt({ min: 0n, max: 1n << 70n }).map((n) => `acc${n}`),
  // Names natural order must still tell apart: leading zeros, neighbours beyond 2^53.
  fc.constantFrom(
    "acc0",
    "acc00",
    "acc2",
    "acc10",
    "acc9007199254740992",
    "acc9007199254740993",
    "acc100000000000000000000",
    "acc100000000000000000001",
  ),
);
// Few distinct values, so that ties (where only the device id can decide) are common.
const small = fc.option(fc.constantFrom(10, 10, 20), { nil: null, freq: 8 });
const selTypeArb = fc.record({
  // Type directories are named alike across devices (wd_dummy-copy), as on real trees.
  type: fc.oneof(fc.constantFrom("wd_dummy-copy", "wd_dummy-csum", "t2", "t10"), fc.stringMatching(/^[a-z]{1,3}[0-9]{0,2}$/)),
  name: fc.constantFrom("copy", "copy", "copy", "csum", null),
  wdType: fc.constantFrom("dummy", "crypto"),
  flags: fc.constantFrom(3, 3, 1, 0x103),
  latency: small,
  throughput: small,
  availableInstances: fc.constantFrom(0, 2, 2, 3),
  deviceApi: fc.constantFrom("wd_dummy_v1", "acme_v2"),
  mdevs: fc.constantFrom([], ["m1"], ["m1", "m2"]),
  bad: fc.nat({ max: 9 }).map((n) => n === 0),
});
const selDeviceArb = fc.record({
  id: idArb,
  zoneId: fc.integer({ min: -1, max: 2 }),
  priority: fc.constantFrom(0, 0, 0, -1, 100),
  bad: fc.nat({ max: 9 }).map((n) => n === 0),
  types: fc.uniqueArray(selTypeArb, { maxLength: 3, selector: (t) => t.type }),
});
const invArb = fc.uniqueArray(selDeviceArb, { maxLength: 8, selector: (d) => d.id });
// UACCE devices: ids with a dash (never a WarpDrive id above), a NUMA node or none, one type
// per algorithm, free queues 0 / some / not reported, isolation 0 / 1 / not shown.
interface UacceDev {
  readonly id: string;
  readonly numaNode: number | null;
  readonly algorithms: readonly string[];
  readonly api: string;
  readonly flags: number;
  readonly availableInstances: number | null;
  readonly isolate: number | null;
  readonly bad: boolean;
}
const selUacceArb: fc.Arbitrary<UacceDev> = fc.record({
  id: fc.stringMatching(/^u[a-z]{0,2}-[0-9]{1,2}$/),
  numaNode: fc.constantFrom(null, 0, 1, 2),
  algorithms: fc.uniqueArray(fc.constantFrom("copy", "csum", "crc32"), { minLength: 1, maxLength: 3 }),
  api: fc.constantFrom("uacce_dummy_v1", "uacce_dummy_v1", "acme_v2"),
  flags: fc.constantFrom(0, 0, 1),
  availableInstances: fc.constantFrom(0, 1, 2, 2, null),
  isolate: fc.constantFrom(null, 0, 0, 1),
  bad: fc.nat({ max: 9 }).map((n) => n === 0),
});
const uacceInvArb = fc.uniqueArray(selUacceArb, { maxLength: 6, selector: (d) => d.id });

type InvSpec = typeof invArb extends fc.Arbitrary<infer T> ? T : never;
type UacceSpec = readonly UacceDev[];

/** A UACCE device as enumerate makes it (the contract in model.ts). */
function uacceDevice(d: UacceDev): Accelerator {
  const path = `/r/class/uacce/${d.id}`;
  const uacce = {
    api: d.api,
    algorithms: d.algorithms,
    flags: d.flags,
    sva: (d.flags & 1) !== 0,
    availableInstances: d.availableInstances,
    regionMmioSize: 4096,
    regionDusSize: 65536,
    isolate: d.isolate,
    isolateStrategy: d.isolate === null ? null : 0,
    numaNode: d.numaNode,
    devName: d.id,
  };
  return {
    class: "uacce",
    uacce,
    id: d.id,
    path,
    zoneId: d.numaNode,
    priority: null,
    iommu: null,
    enabled: !d.bad && d.isolate !== 1,
    problems: d.bad ? ["flags: bad"] : [],
    partial: false,
    types: d.algorithms.map((alg): AcceleratorType => ({
      type: alg,
      path,
      name: alg,
      wdType: null,
      latency: null,
      throughput: null,
      flags: d.flags,
      availableInstances: d.availableInstances,
      deviceApi: d.api,
      mdevs: [],
      problems: [],
      partial: false,
    })),
  };
}

function inventory(devices: InvSpec, uacce: UacceSpec = []): Inventory {
  return {
    root: "/r",
    classDir: "/r/class/warpdrive",
    classDirs: [{ class: "warpdrive", path: "/r/class/warpdrive", present: true }, { class: "uacce", path: "/r/class/uacce", present: true }],
    alg: null,
    devices: [...devices.map((d): Accelerator => ({
      class: "warpdrive",
      uacce: null,
      id: d.id,
      path: `/r/class/warpdrive/${d.id}`,
      zoneId: d.zoneId,
      priority: d.priority,
      iommu: 3,
      enabled: !d.bad && d.priority >= -100 && d.priority <= 99,
      problems: d.bad ? ["wdev/priority: bad"] : [],
      partial: false,
      types: d.types.map((t): AcceleratorType => ({
        ...t,
        path: `/r/x/${t.type}`,
        latency: t.latency ?? null,
        throughput: t.throughput ?? null,
        problems: t.bad || t.latency === null || t.throughput === null ? ["latency: bad"] : [],
        partial: false,
      })),
    })), ...uacce.map(uacceDevice)],
  };
}

function shuffle<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items.map((x, i) => ({ x, k: keys[i % Math.max(keys.length, 1)] ?? 0, i })).sort((a, b) => a.k - b.k || b.i - a.i).map((e) => e.x);
}

function outcome(inv: Inventory, criteria: Parameters<typeof select>[1]): string[] | string {
  try {
    return select(inv, criteria).ranked.map((p) => `${p.device.class}:${p.device.id}/${p.type.type}`);
  } catch (e) {
    if (e instanceof NoAcceleratorError) return "none";
    throw e;
  }
}

describe("select over random inventories", () => {
  test("gives the same answer and ranking for any order of devices and types", async () => {
    const criteria = fc.record(
      {
        alg: fc.constantFrom("copy", "copy", "csum", "crc32"),
        flags: fc.constantFrom(0, 1, 2),
        zone: fc.integer({ min: -1, max: 2 }),
        prefer: fc.constantFrom("throughput" as const, "latency" as const),
        allowCreate: fc.boolean(),
        classes: fc.constantFrom(["warpdrive" as const], ["uacce" as const], ["uacce" as const, "warpdrive" as const]),
        apis: fc.constantFrom(["wd_dummy_v1", "uacce_dummy_v1"], ["wd_dummy_v1", "acme_v2"], ["uacce_dummy_v1"]),
      },
      { requiredKeys: ["alg", "apis"] },
    );
    await check(
      "select",
      fc.property(invArb, uacceInvArb, criteria, fc.array(fc.integer(), { minLength: 1, maxLength: 12 }), (devices, uacce, c, keys) => {
        const inv = inventory(devices, uacce);
        const shuffled: Inventory = {
          ...inv,
          devices: shuffle(inv.devices, keys).map((d) => ({ ...d, types: shuffle(d.types, [...keys].reverse()) })),
        };
        expect(outcome(shuffled, c)).toEqual(outcome(inv, c));
      }),
      600,
    );
  }, 30_000);

  test("over both classes: only sound candidates of the classes asked for, ranked by priority with UACCE at 0, then zone", async () => {
    const criteria = fc.record(
      {
        alg: fc.constantFrom("copy", "csum", "crc32"),
        zone: fc.integer({ min: -1, max: 2 }),
        flags: fc.constantFrom(0, 0, 2),
        allowCreate: fc.boolean(),
        classes: fc.constantFrom(["warpdrive" as const], ["uacce" as const], ["uacce" as const, "warpdrive" as const]),
        apis: fc.constantFrom(["wd_dummy_v1", "uacce_dummy_v1"], ["uacce_dummy_v1"], ["wd_dummy_v1", "acme_v2"]),
      },
      { requiredKeys: ["alg", "apis"] },
    );
    await check(
      "select both classes",
      fc.property(invArb, uacceInvArb, criteria, (devices, uacce, c) => {
        const apis: readonly string[] = c.apis;
        const classes: readonly string[] | undefined = c.classes;
        let ranked: ReturnType<typeof select>["ranked"];
        try {
          ranked = select(inventory(devices, uacce), c).ranked;
        } catch (e) {
          if (!(e instanceof NoAcceleratorError)) throw e;
          // Nothing accepted: then no UACCE device was sound for the question either.
          for (const d of uacce) {
            const sound = !d.bad && d.isolate !== 1 && d.availableInstances !== 0 && d.algorithms.includes(c.alg) && apis.includes(d.api) &&
              (classes ?? ["uacce"]).includes("uacce") && ((c.flags ?? 0) === 0 || ((c.flags ?? 0) === 2 && (d.flags & 1) === 1));
            expect([d.id, sound]).toEqual([d.id, false]);
          }
          return;
        }
        const key = (p: (typeof ranked)[number]): [number, number] => [p.device.priority ?? 0, c.zone !== undefined && p.device.zoneId === c.zone ? 0 : 1];
        for (let i = 0; i < ranked.length; i++) {
          const p = ranked[i]!;
          if (classes !== undefined) expect(classes).toContain(p.device.class);
          if (p.device.class === "uacce") {
            const u = p.device.uacce!;
            expect([p.device.problems, u.isolate === 1, u.availableInstances === 0, apis.includes(u.api ?? "")]).toEqual([[], false, false, true]);
            if ((c.flags ?? 0) !== 0) expect(u.sva).toBe(true);
          }
          if (i > 0) {
            const [pa, za] = key(ranked[i - 1]!);
            const [pb, zb] = key(p);
            expect(pa < pb || (pa === pb && za <= zb)).toBe(true);
          }
        }
      }),
      600,
    );
  }, 30_000);

  test("ties on every attribute are broken by the device id alone, the same for any order", async () => {
    const twin = (id: string): InvSpec[number] => ({
      id,
      zoneId: 0,
      priority: 0,
      bad: false,
      types: [{
        type: "wd_dummy-copy",
        name: "copy",
        wdType: "dummy",
        flags: 3,
        latency: 10,
        throughput: 10,
        availableInstances: 2,
        deviceApi: "wd_dummy_v1",
        mdevs: ["m1"],
        bad: false,
      }],
    });
    await check(
      "select ties",
      fc.property(
        fc.uniqueArray(idArb, { minLength: 2, maxLength: 8 }),
        fc.uniqueArray(fc.stringMatching(/^u[a-z]{0,2}-[0-9]{1,2}$/), { maxLength: 4 }),
        fc.array(fc.integer(), { minLength: 1, maxLength: 12 }),
        (ids, uacceIds, keys) => {
          // A UACCE twin ties with the WarpDrive twins: neutral priority 0 and level 10, 2 free queues.
          const uacce = uacceIds.map((id) => ({ id, numaNode: 0, algorithms: ["copy"], api: "uacce_dummy_v1", flags: 0, availableInstances: 2, isolate: 0, bad: false }));
          const inv = inventory(ids.map(twin), uacce);
          const shuffled: Inventory = { ...inv, devices: shuffle(inv.devices, keys) };
          const c = { alg: "copy", apis: ["wd_dummy_v1", "uacce_dummy_v1"] };
          const got = outcome(shuffled, c);
          expect(got).toEqual(outcome(inv, c));
          const all = [...ids, ...uacceIds];
          expect((got as string[]).map((x) => x.replace(/^[a-z]+:/, "").split("/")[0])).toEqual(all.sort(naturalCompare));
        },
      ),
      300,
    );
  });
});
