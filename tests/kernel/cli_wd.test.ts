/** The `wd` command against the dummy module's real sysfs tree. Runs inside the rig. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { attr, MDEV_DIR, reload, requireRig } from "./kmod_harness.ts";

const WD = path.resolve(import.meta.dir, "..", "..", "bin", "wd.ts");

function wd(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([process.execPath, WD, ...args], { env: { ...process.env, WD_SYSFS_ROOT: "" } });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

beforeAll(() => {
  requireRig();
  reload({ devices: 2, instances: 2, priority: "0,-7", zone: "0,1" });
});
// Later test files expect the module as the rig loads it.
afterAll(() => reload());

test("wd list --json reads the module's devices, types and mdevs", () => {
  const r = wd("list", "--json");
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  expect(j.devices.map((d: { id: string; priority: number; zoneId: number }) => [d.id, d.priority, d.zoneId])).toEqual([
    ["wd_dummy0", 0, 0],
    ["wd_dummy1", -7, 1],
  ]);
  expect(j.devices[0].types.map((t: { type: string; flags: number; availableInstances: number }) => [t.type, t.flags, t.availableInstances]))
    .toEqual([["wd_dummy-copy", 0x103, 2], ["wd_dummy-csum", 0x10001, 2]]);
  expect(j.devices.every((d: { problems: string[] }) => d.problems.length === 0)).toBe(true);
});

test("wd create, pick, priority and remove change the kernel's tree", () => {
  const c = wd("create", "--device", "wd_dummy0", "--type", "wd_dummy-copy");
  expect(c.code).toBe(0);
  const uuid = c.out.trim();
  expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(true);
  expect(attr("/sys/class/warpdrive/wd_dummy0/mdev_supported_types/wd_dummy-copy/available_instances")).toBe("1");
  expect(JSON.parse(wd("pick", "--alg", "copy", "--json").out)).toMatchObject({ device: "wd_dummy0", mdev: uuid });
  expect(JSON.parse(wd("pick", "--alg", "copy", "--allow-create", "--json").out)).toMatchObject({ device: "wd_dummy1", mdev: null });
  expect(JSON.parse(wd("pick", "--alg", "copy", "--allow-create", "--zone", "0", "--json").out).device).toBe("wd_dummy1");
  expect(wd("priority", "wd_dummy1", "5").code).toBe(0);
  expect(attr("/sys/class/warpdrive/wd_dummy1/wdev/priority")).toBe("5");
  expect(JSON.parse(wd("pick", "--alg", "copy", "--allow-create", "--json").out).device).toBe("wd_dummy0");
  expect(wd("disable", "wd_dummy0").code).toBe(0);
  expect(wd("pick", "--alg", "copy").code).toBe(1);
  expect(wd("remove", uuid).code).toBe(0);
  expect(readdirSync(MDEV_DIR)).not.toContain(uuid);
  const bad = wd("create", "--device", "wd_dummy0", "--type", "wd_dummy-copy", "--uuid", uuid);
  expect(bad.code).toBe(0);
  const dup = wd("create", "--device", "wd_dummy1", "--type", "wd_dummy-copy", "--uuid", uuid);
  expect(dup.code).toBe(1);
  expect(dup.err).toContain("already exists");
  expect(wd("remove", uuid).code).toBe(0);
});
