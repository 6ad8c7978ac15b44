// The inquiry over the real /sys/class/uacce of the dummy UACCE driver (uacce_dummy, loaded
// by the rig beside wd_dummy): enumerate() reads every attribute exactly as the kernel's
// files say, one inquiry lists and ranks both classes at once, and an open queue shows in
// available_instances, which the ranking follows. Runs as root inside the kernel rig.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { enumerate } from "../../mod.ts";
import { attr, CLASS_DIR, kernelProblems, reload, requireRig } from "./kmod_harness.ts";

const UACCE_DIR = "/sys/class/uacce";
const WD = path.resolve(import.meta.dir, "..", "..", "bin", "wd.ts");
const APIS = ["--api", "wd_dummy_v1", "--api", "uacce_dummy_v1"];

function wd(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([process.execPath, WD, ...args], { env: { ...process.env, WD_SYSFS_ROOT: "" } });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const natural = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true });

/** The UACCE class entries of the dummy driver, in natural order. */
function uacceNames(): string[] {
  return readdirSync(UACCE_DIR).filter((n) => n.startsWith("uacce_dummy-")).sort(natural);
}

/** An attribute as a number, or null when the kernel does not show the file. */
function num(file: string): number | null {
  return existsSync(file) ? Number(attr(file)) : null;
}

/** The algorithms file of an entry, one per line. */
function algorithms(name: string): string[] {
  return attr(`${UACCE_DIR}/${name}/algorithms`).split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

beforeAll(() => {
  requireRig();
  if (!existsSync(UACCE_DIR)) throw new Error(`${UACCE_DIR} is missing: the rig did not load uacce and uacce_dummy`);
  reload({ devices: 2, instances: 2 });
}, 60_000);
// Later test files expect wd_dummy as the rig loads it.
afterAll(() => reload(), 60_000);

describe("enumerate() on the kernel's /sys/class/uacce", () => {
  test("every UACCE device and attribute comes through exactly as the files say", () => {
    const names = uacceNames();
    expect(names.length).toBeGreaterThanOrEqual(3);
    const inv = enumerate({ classes: ["uacce"] });
    expect(inv.devices.map((d) => d.id)).toEqual(readdirSync(UACCE_DIR).sort(natural));
    for (const d of inv.devices) {
      const dir = `${UACCE_DIR}/${d.id}`;
      const numa = Number(attr(`${dir}/device/numa_node`));
      expect([d.id, d.class, d.path, d.problems, d.enabled, d.priority, d.iommu]).toEqual([d.id, "uacce", dir, [], true, null, null]);
      expect([d.id, d.uacce]).toEqual([d.id, {
        api: attr(`${dir}/api`),
        algorithms: algorithms(d.id),
        flags: Number(attr(`${dir}/flags`)),
        sva: (Number(attr(`${dir}/flags`)) & 1) === 1,
        availableInstances: Number(attr(`${dir}/available_instances`)),
        regionMmioSize: num(`${dir}/region_mmio_size`),
        regionDusSize: num(`${dir}/region_dus_size`),
        isolate: num(`${dir}/isolate`),
        isolateStrategy: num(`${dir}/isolate_strategy`),
        numaNode: numa === -1 ? null : numa,
        devName: d.id,
      }]);
      expect(d.zoneId).toBe(numa === -1 ? null : numa);
      expect(d.types.map((t) => [t.type, t.name, t.deviceApi, t.flags, t.availableInstances, t.mdevs.length, t.partial])).toEqual(
        algorithms(d.id).map((a) => [a, a, attr(`${dir}/api`), Number(attr(`${dir}/flags`)), Number(attr(`${dir}/available_instances`)), 0, false]),
      );
      expect(existsSync(`/dev/${d.uacce?.devName}`)).toBe(true);
    }
    // The dummy's documented values, so a silent change in the module shows here too.
    const zero = inv.devices.find((d) => d.id === names[0]);
    expect(zero?.uacce).toMatchObject({ api: "uacce_dummy_v1", flags: 0, sva: false, availableInstances: 2, regionMmioSize: 4096, regionDusSize: 274432 });
  });

  test("both classes in one enumeration: WarpDrive first, then UACCE, and both class directories present", () => {
    const inv = enumerate();
    const wdNames = readdirSync(CLASS_DIR).sort(natural);
    expect(inv.devices.map((d) => `${d.class}:${d.id}`)).toEqual([
      ...wdNames.map((n) => `warpdrive:${n}`),
      ...readdirSync(UACCE_DIR).sort(natural).map((n) => `uacce:${n}`),
    ]);
    expect(inv.classDirs).toEqual([{ class: "warpdrive", path: CLASS_DIR, present: true }, { class: "uacce", path: UACCE_DIR, present: true }]);
  });

  test("an open queue lowers available_instances, enumerate() and the ranking follow, and closing gives it back", () => {
    const name = uacceNames().find((n) => algorithms(n).length === 1) as string;
    const alg = algorithms(name)[0] as string;
    const free = (): number | null => enumerate({ classes: ["uacce"] }).devices.find((d) => d.id === name)?.uacce?.availableInstances ?? null;
    expect(free()).toBe(2);
    const fds: number[] = [];
    try {
      fds.push(openSync(`/dev/${name}`, "r+"));
      expect([free(), Number(attr(`${UACCE_DIR}/${name}/available_instances`))]).toEqual([1, 1]);
      fds.push(openSync(`/dev/${name}`, "r+"));
      expect(free()).toBe(0);
      const r = wd("pick", "--alg", alg, ...APIS, "--class", "uacce", "--explain", "--json");
      const mine = JSON.parse(r.out).candidates ?? JSON.parse(r.out).error.candidates;
      expect(mine.find((c: { device: string }) => c.device === name)).toMatchObject({ class: "uacce", accepted: false, reason: "no free queue (available_instances 0)" });
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    expect(free()).toBe(2);
  });
});

describe("wd list and wd pick on both classes at once", () => {
  test("wd list --json shows the WarpDrive and the UACCE devices, each with its class and attributes", () => {
    const r = wd("list", "--json");
    expect([r.code, r.err]).toEqual([0, ""]);
    const j = JSON.parse(r.out);
    const inv = enumerate();
    expect(j.devices.map((d: { class: string; id: string }) => `${d.class}:${d.id}`)).toEqual(inv.devices.map((d) => `${d.class}:${d.id}`));
    expect(new Set(j.devices.map((d: { class: string }) => d.class))).toEqual(new Set(["warpdrive", "uacce"]));
    for (const d of j.devices) {
      const mine = inv.devices.find((x) => x.id === d.id && x.class === d.class);
      expect([d.id, d.uacce, d.problems]).toEqual([d.id, mine?.uacce === null ? null : { ...mine?.uacce }, []]);
    }
    const text = wd("list");
    expect(text.out).toContain("wd_dummy0  zone ");
    expect(text.out).toMatch(/^uacce_dummy-\d+ {2}uacce {2}numa - {2}api uacce_dummy_v1 {2}flags 0 {2}free 2 {2}mmio 4096 {2}dus 274432 .*enabled$/m);
  });

  test("wd pick ranks candidates of both classes in one list; --class narrows to one", () => {
    const r = wd("pick", "--alg", "copy", ...APIS, "--allow-create", "--explain", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const accepted = j.candidates.filter((c: { accepted: boolean }) => c.accepted);
    expect(new Set(accepted.map((c: { class: string }) => c.class))).toEqual(new Set(["warpdrive", "uacce"]));
    expect([j.class, j.device]).toEqual([accepted[0].class, accepted[0].device]);
    const u = JSON.parse(wd("pick", "--alg", "copy", ...APIS, "--class", "uacce", "--json").out);
    expect([u.class, u.mdev, u.uacce.devName, u.deviceApi, algorithms(u.device).includes("copy")]).toEqual(["uacce", null, u.device, "uacce_dummy_v1", true]);
    const w = JSON.parse(wd("pick", "--alg", "copy", ...APIS, "--class", "warpdrive", "--allow-create", "--json").out);
    expect([w.class, w.uacce, w.device.startsWith("wd_dummy")]).toEqual(["warpdrive", null, true]);
    const text = wd("pick", "--alg", "copy", ...APIS, "--class", "uacce", "--explain");
    expect(text.out).toBe(`${u.device}/copy  uacce /dev/${u.device}\n`);
    expect(text.err).toContain(`  1 ${u.device}/copy [uacce]: priority neutral (0), throughput neutral (10), 2 free queue(s)`);
  });

  test("the kernel log has no WARNING, BUG, Oops or general protection fault", () => {
    expect(kernelProblems()).toEqual([]);
  });
});
