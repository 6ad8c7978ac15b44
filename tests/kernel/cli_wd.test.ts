/** The `wd` command against the dummy module's real sysfs tree. Runs inside the rig. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { attr, MDEV_DIR, reload, requireRig } from "./kmod_harness.ts";
import { reloadUacce, uacceAttr, uacceCounter, uacceDummyDevices } from "./uacce_harness.ts";

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
  const r = wd("list", "--json", "--class", "warpdrive");
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
  expect(wd("pick", "--alg", "copy", "--class", "warpdrive").code).toBe(1);
  expect(wd("remove", uuid).code).toBe(0);
  expect(readdirSync(MDEV_DIR)).not.toContain(uuid);
  const bad = wd("create", "--device", "wd_dummy0", "--type", "wd_dummy-copy", "--uuid", uuid);
  expect(bad.code).toBe(0);
  const dup = wd("create", "--device", "wd_dummy1", "--type", "wd_dummy-copy", "--uuid", uuid);
  expect(dup.code).toBe(1);
  expect(dup.err).toContain("already exists");
  expect(wd("remove", uuid).code).toBe(0);
});

const mdevCount = (): number => readdirSync(MDEV_DIR).length;
const available = (dev: string, type: string): string => attr(`/sys/class/warpdrive/${dev}/mdev_supported_types/${type}/available_instances`);

function stateFile(doc: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), "wd-state-"));
  const file = path.join(dir, "state.json");
  writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
  return file;
}

test("wd apply makes the kernel's tree as the file says, and applying it again changes nothing", () => {
  expect(mdevCount()).toBe(0);
  const fixed = "6a2f40b1-7c1d-4f5e-9a3b-2c4d5e6f7a8b";
  const file = stateFile({
    schema: 1,
    devices: {
      wd_dummy0: { priority: -3, zone: 5, types: { "wd_dummy-copy": { mdevs: 2 } } },
      wd_dummy1: { types: { "wd_dummy-csum": { mdevs: [fixed] } } },
    },
  });
  const plan = JSON.parse(wd("apply", file, "--dry-run", "--json").out);
  expect(plan.steps.map((s: { action: string }) => s.action)).toEqual(["priority", "zone", "create", "create", "create"]);
  expect(mdevCount()).toBe(0);
  const r = wd("apply", file, "--json");
  expect(r.code).toBe(0);
  const done = JSON.parse(r.out);
  expect(done.changed).toBe(5);
  expect(attr("/sys/class/warpdrive/wd_dummy0/wdev/priority")).toBe("-3");
  expect(attr("/sys/class/warpdrive/wd_dummy0/wdev/zone_id")).toBe("5");
  expect(available("wd_dummy0", "wd_dummy-copy")).toBe("0");
  expect(readdirSync(MDEV_DIR).sort()).toEqual([...done.steps.filter((s: { uuid: string | null }) => s.uuid !== fixed).map((s: { uuid: string }) => s.uuid).filter(Boolean), fixed].sort());
  expect(existsSync(`${MDEV_DIR}/${fixed}`)).toBe(true);
  expect(wd("apply", file).out.trim()).toBe("nothing to change");
  // What save prints, apply takes without changing anything.
  const saved = stateFile(wd("save").out);
  const again = JSON.parse(wd("apply", saved, "--json").out);
  expect([again.changed, again.steps, again.notes]).toEqual([0, [], []]);
  expect(mdevCount()).toBe(3);
});

test("wd apply undoes what its run did when a step fails, and names the step", () => {
  const before = readdirSync(MDEV_DIR).sort();
  const priority = attr("/sys/class/warpdrive/wd_dummy1/wdev/priority");
  // wd_dummy1's copy type has 2 instances: the third create fails in the kernel's tree.
  const file = stateFile({ schema: 1, devices: { wd_dummy1: { priority: 9, types: { "wd_dummy-copy": { mdevs: 3 } } } } });
  const r = wd("apply", file, "--json");
  expect(r.code).toBe(1);
  const e = JSON.parse(r.out).error;
  expect([e.code, e.step.index, e.step.of, e.step.action]).toEqual(["ENOSPC", 4, 4, "create"]);
  expect(e.message).toContain("Step 4 of 4 failed (create a mediated device of wd_dummy1/wd_dummy-copy)");
  expect(e.message).toContain("undid the 3 earlier step(s) of this run");
  expect(readdirSync(MDEV_DIR).sort()).toEqual(before);
  expect(attr("/sys/class/warpdrive/wd_dummy1/wdev/priority")).toBe(priority);
  expect(available("wd_dummy1", "wd_dummy-copy")).toBe("2");
});

test("wd apply --prune removes the mediated devices the file does not ask for", () => {
  expect(mdevCount()).toBe(3);
  const none = { "wd_dummy-copy": { mdevs: 0 }, "wd_dummy-csum": { mdevs: 0 } };
  const file = stateFile({ schema: 1, devices: { wd_dummy0: { priority: 0, zone: 0, types: none }, wd_dummy1: { types: none } } });
  const kept = JSON.parse(wd("apply", file, "--json").out);
  expect([kept.notes.length, mdevCount()]).toEqual([2, 3]);
  const r = wd("apply", file, "--prune");
  expect(r.code).toBe(0);
  expect(r.out).toContain("3 change(s) made");
  expect(mdevCount()).toBe(0);
  expect(available("wd_dummy0", "wd_dummy-copy")).toBe("2");
});

test("wd bench runs requests through a real queue and reports rate and latency; JSON has no progress line", () => {
  const r = wd("bench", "--alg", "copy", "--size", "512", "--depth", "8", "--seconds", "1", "--allow-create", "--json");
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  expect(j.schema).toBe(1);
  expect([j.alg, j.size, j.depth, j.failed, j.deviceApi]).toEqual(["copy", 512, 8, 0, "wd_dummy_v1"]);
  expect(j.requests).toBeGreaterThan(0);
  expect(j.requestsPerSecond).toBeGreaterThan(0);
  expect(j.mbPerSecond).toBeCloseTo((j.requests * 512) / j.seconds / 1e6, 1);
  expect(j.latencyUs.p50).toBeLessThanOrEqual(j.latencyUs.p99);
  // The mediated device bench created for itself is gone again.
  expect(mdevCount()).toBe(0);
  const text = wd("bench", "--alg", "csum", "--size", "256", "--seconds", "1", "--allow-create");
  expect(text.code).toBe(0);
  expect(text.out).toMatch(/^csum on wd_dummy\d\/wd_dummy-csum .*\n {2}\d+ requests, \d+ req\/s, [\d.]+ MB\/s\n {2}latency p50 \d+ us, p99 \d+ us\n$/);
  expect(text.out).not.toContain("\r");
});

test("wd bench on the dummy UACCE driver: crc32 and copy through the char device, each queue given back; an algorithm its driver cannot bench is refused", () => {
  reloadUacce();
  const devs = uacceDummyDevices();
  const crcDev = devs.find((d) => d.algorithms.includes("crc32"));
  expect(crcDev).toBeDefined();
  const freeBefore = devs.map((d) => uacceAttr(d.name, "available_instances"));
  const r = wd("bench", "--alg", "crc32", "--class", "uacce", "--size", "1024", "--depth", "8", "--seconds", "1", "--json");
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  expect([j.schema, j.alg, j.class, j.deviceApi, j.size, j.depth, j.failed]).toEqual([1, "crc32", "uacce", "uacce_dummy_v1", 1024, 8, 0]);
  expect(devs.filter((d) => d.algorithms.includes("crc32")).map((d) => d.name)).toContain(j.device);
  expect([j.type, j.mdev]).toEqual(["crc32", `/dev/${j.device}`]);
  expect(j.requests).toBeGreaterThan(0);
  expect(j.requestsPerSecond).toBeGreaterThan(0);
  expect(j.mbPerSecond).toBeCloseTo((j.requests * 1024) / j.seconds / 1e6, 1);
  expect(j.latencyUs.p50).toBeLessThanOrEqual(j.latencyUs.p99);
  // The driver (loaded afresh above) counted the same requests, and got its queue back.
  expect([uacceCounter(j.device, "requests"), uacceCounter(j.device, "opens"), uacceCounter(j.device, "releases")]).toEqual([j.requests, 1, 1]);
  const copy = wd("bench", "--alg", "copy", "--class", "uacce", "--size", "512", "--seconds", "1");
  expect([copy.code, copy.err]).toEqual([0, ""]);
  expect(copy.out).toMatch(/^copy on uacce_dummy-\d+\/copy \(\/dev\/uacce_dummy-\d+\): 512 B x 16 in flight, .*\n {2}\d+ requests, \d+ req\/s, [\d.]+ MB\/s\n {2}latency p50 \d+ us, p99 \d+ us\n$/);
  expect(devs.map((d) => uacceAttr(d.name, "available_instances"))).toEqual(freeBefore);
  const csum = wd("bench", "--alg", "csum", "--class", "uacce", "--seconds", "1", "--explain");
  expect(csum.code).toBe(1);
  expect(csum.err).toContain('No accelerator offers "csum"');
  const zlib = wd("bench", "--alg", "zlib", "--class", "uacce");
  expect([zlib.code, zlib.err]).toEqual([2, 'wd: bench: no driver bench knows makes "zlib" requests; wd bench knows wd_dummy_v1 (copy, csum), uacce_dummy_v1 (copy, crc32)\n']);
});

test("on the real tree, errors under --json are objects on stdout with the exit code of the text form", () => {
  const gone = wd("remove", "6a2f40b1-7c1d-4f5e-9a3b-000000000000", "--json");
  expect([gone.code, gone.err, JSON.parse(gone.out).error.code]).toEqual([1, "", "ENOENT"]);
  expect(wd("remove", "6a2f40b1-7c1d-4f5e-9a3b-000000000000").code).toBe(1);
  const none = wd("pick", "--alg", "zlib", "--json");
  expect([none.code, JSON.parse(none.out).error.code]).toEqual([1, "ENODEV"]);
  const usage = wd("priority", "wd_dummy0", "x", "--json");
  expect([usage.code, JSON.parse(usage.out).error.code]).toEqual([2, "EUSAGE"]);
  expect(JSON.parse(wd("help", "apply", "--json").out).help).toContain("Usage: wd apply FILE");
});

test("under Deno, wd list reads the kernel's tree of both classes as under Bun (Deno's reader, not node:fs)", () => {
  const viaBun = wd("list", "--json");
  expect(viaBun.code).toBe(0);
  const want = JSON.parse(viaBun.out);
  expect(new Set(want.devices.map((d: { class: string }) => d.class))).toEqual(new Set(["warpdrive", "uacce"]));
  // -A: Deno reads /sys only with every permission.
  const r = Bun.spawnSync(["deno", "run", "-A", WD, "list", "--json"], { env: { ...process.env, WD_SYSFS_ROOT: "", NO_COLOR: "1" } });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  expect(JSON.parse(r.stdout.toString())).toEqual(want);
}, 120_000);
