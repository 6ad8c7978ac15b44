import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { createMdev, createMdevAsync, disableDevice, removeMdev, removeMdevAsync, setPriority, setZone } from "../../src/mdev/mdev.ts";
import { SysfsError } from "../../src/sysfs/errors.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { isUuid } from "../../src/sysfs/parse.ts";
import { thrown, typeDir, wdev } from "./_tree_paths.ts";

const UUID = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";


describe("createMdev", () => {
  test("writes a new v4 UUID to create and returns it", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const uuid = createMdev("acc0", "wd_dummy-copy", { root: tree.root });
    expect(isUuid(uuid)).toBe(true);
    expect(uuid[14]).toBe("4");
    expect(fs.readFileSync(path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create"), "utf8")).toBe(uuid);
  });
  test("writes a given UUID, lower-cased", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    expect(createMdev("acc0", "wd_dummy-copy", { root: tree.root, uuid: UUID.toUpperCase() })).toBe(UUID);
    expect(fs.readFileSync(path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create"), "utf8")).toBe(UUID);
  });
  test("refuses a malformed UUID before touching anything", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    expect(() => createMdev("acc0", "wd_dummy-copy", { root: tree.root, uuid: "1234" })).toThrow(TypeError);
    expect(fs.readFileSync(path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create"), "utf8")).toBe("");
  });
  test("names the missing device or type", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const e1 = thrown(() => createMdev("acc9", "wd_dummy-copy", { root: tree.root })) as SysfsError;
    expect(e1.code).toBe("ENOENT");
    expect(e1.message).toContain('No accelerator "acc9"');
    const e2 = thrown(() => createMdev("acc0", "wd_dummy-zip", { root: tree.root })) as SysfsError;
    expect(e2.code).toBe("ENOENT");
    expect(e2.message).toContain("no such type");
    expect(e2.path).toBe(path.join(tree.root, "class", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-zip"));
  });
  test("refuses when no instance is available, writing nothing", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", availableInstances: 0 }] }] });
    const e = thrown(() => createMdev("acc0", "wd_dummy-copy", { root: tree.root })) as SysfsError;
    expect(e.code).toBe("ENOSPC");
    expect(fs.readFileSync(path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create"), "utf8")).toBe("");
  });
  test("refuses path tricks in names", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    expect(() => createMdev("../acc0", "wd_dummy-copy", { root: tree.root })).toThrow(TypeError);
    expect(() => createMdev("acc0", "..", { root: tree.root })).toThrow(TypeError);
  });
  test("a write refused by permissions names the file and says root is needed", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const create = path.join(typeDir(tree.root, "acc0", "wd_dummy-copy"), "create");
    // Root bypasses file modes, so the refusal comes from a child running as nobody when we are root.
    fs.chmodSync(tree.root, 0o755);
    fs.chmodSync(create, 0o444);
    const isRoot = process.getuid?.() === 0;
    const script = `import { createMdev } from ${JSON.stringify(path.resolve("src/mdev/mdev.ts"))};
      try { createMdev("acc0", "wd_dummy-copy", { root: ${JSON.stringify(tree.root)} }); console.log("no error"); }
      catch (e) { console.log(JSON.stringify({ code: e.code, path: e.path, message: e.message })); }`;
    const file = path.join(tree.root, "probe.ts");
    fs.writeFileSync(file, script);
    const cmd = isRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, file] : [process.execPath, file];
    const r = Bun.spawnSync(cmd, { env: { ...process.env, BUN_INSTALL_CACHE_DIR: "/tmp", HOME: "/tmp" } });
    const out = JSON.parse(r.stdout.toString().trim());
    expect(out.code).toBe("EACCES");
    expect(out.path).toBe(path.join(tree.root, "class", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "create"));
    expect(out.message).toContain("needs root");
    // Nothing was chmod-ed back by the library.
    expect(fs.statSync(create).mode & 0o777).toBe(0o444);
  });
});

describe("removeMdev", () => {
  test("writes 1 to the bus remove file", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [UUID] }] }] });
    removeMdev(UUID, { root: tree.root });
    expect(fs.readFileSync(path.join(tree.root, "bus", "mdev", "devices", UUID, "remove"), "utf8")).toBe("1");
  });
  test("an unknown UUID is ENOENT naming the path; a malformed one is TypeError", () => {
    using tree = makeSysfs({ devices: [] });
    const e = thrown(() => removeMdev(UUID, { root: tree.root })) as SysfsError;
    expect(e).toBeInstanceOf(SysfsError);
    expect(e.code).toBe("ENOENT");
    expect(e.message).toContain(path.join(tree.root, "bus", "mdev", "devices", UUID));
    expect(() => removeMdev("nope", { root: tree.root })).toThrow(TypeError);
  });
});

describe("priority and zone", () => {
  test("setPriority writes values in [-100, 99] and refuses others", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    setPriority("acc0", -100, { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("-100");
    setPriority("acc0", 99, { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("99");
    for (const bad of [100, -101, 1.5, NaN]) expect(() => setPriority("acc0", bad, { root: tree.root })).toThrow(RangeError);
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("99");
  });
  test("disableDevice is the explicit way out of range", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }] });
    disableDevice("acc0", { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "priority"), "utf8")).toBe("100");
  });
  test("setZone writes zone_id, or node_id where only that exists", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [] }, { id: "acc1", zoneId: null, types: [] }] });
    fs.writeFileSync(wdev(tree.root, "acc1", "node_id"), "0\n");
    setZone("acc0", 3, { root: tree.root });
    setZone("acc1", 5, { root: tree.root });
    expect(fs.readFileSync(wdev(tree.root, "acc0", "zone_id"), "utf8")).toBe("3");
    expect(fs.readFileSync(wdev(tree.root, "acc1", "node_id"), "utf8")).toBe("5");
    expect(fs.existsSync(wdev(tree.root, "acc1", "zone_id"))).toBe(false);
    expect(() => setZone("acc0", 2 ** 31, { root: tree.root })).toThrow(RangeError);
  });
  test("an attribute that does not exist is never created", () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", priority: null, types: [] }] });
    const e = thrown(() => setPriority("acc0", 1, { root: tree.root })) as SysfsError;
    expect(e.code).toBe("ENOENT");
    expect(fs.existsSync(wdev(tree.root, "acc0", "priority"))).toBe(false);
  });
});

describe("createMdevAsync and removeMdevAsync", () => {
  test("write off the main thread, with the same checks and results as the blocking ones", async () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", availableInstances: 1 }] }] });
    const uuid = await createMdevAsync("acc0", "wd_dummy-copy", { root: tree.root });
    expect(isUuid(uuid)).toBe(true);
    const create = path.join(tree.root, "class", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "create");
    expect(fs.readFileSync(create, "utf8")).toBe(uuid);
    await expect(createMdevAsync("acc0", "nope", { root: tree.root })).rejects.toMatchObject({ code: "ENOENT" });
    await expect(createMdevAsync("acc0", "wd_dummy-copy", { root: tree.root, timeout: 0 })).rejects.toBeInstanceOf(RangeError);
    const dir = path.join(tree.root, "bus", "mdev", "devices", uuid);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "remove"), "");
    await removeMdevAsync(uuid, { root: tree.root });
    expect(fs.readFileSync(path.join(dir, "remove"), "utf8")).toBe("1");
    await expect(removeMdevAsync("not-a-uuid", { root: tree.root })).rejects.toBeInstanceOf(TypeError);
  });

  // A write the kernel holds (removing an mdev another process has open) is the kernel
  // tier's to show (queue_data_path: the removal times out naming the device while timers
  // keep running); a FIFO cannot stand in for it here, since writes refuse anything but a
  // regular file.
  test("the off-thread write follows the blocking one's rules: a FIFO or a link is refused at once, naming the file", async () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
    const uuid = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    const dir = path.join(tree.root, "bus", "mdev", "devices", uuid);
    fs.mkdirSync(dir, { recursive: true });
    const fifo = path.join(dir, "remove");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // Refused before any write: a hang would leave it to the 60 s timeout, past the test's own.
    const err = await removeMdevAsync(uuid, { root: tree.root, timeout: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysfsError);
    expect((err as Error).message).toContain(`${fifo} is not a regular file (a FIFO)`);
    fs.rmSync(fifo);
    const outside = path.join(tree.root, "..", `outside-${process.pid}`);
    fs.writeFileSync(outside, "precious");
    try {
      fs.symlinkSync(outside, fifo);
      await expect(removeMdevAsync(uuid, { root: tree.root })).rejects.toBeInstanceOf(SysfsError);
      expect(fs.readFileSync(outside, "utf8")).toBe("precious");
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });
});
